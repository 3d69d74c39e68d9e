"""Delta table maintenance after loads: compaction of small files, Z-order on the job's
`zorder_columns`, vacuum of files no version inside the retention window reads.

"Every N loads" needs no state of its own: the table's log says how many WRITE / MERGE
commits came after its last OPTIMIZE.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("ingest.maintenance")
LOAD_OPERATIONS = {"WRITE", "MERGE", "DELETE", "UPDATE"}
SAFE_RETENTION_HOURS = 168  # delta-rs refuses shorter retention unless told otherwise


@dataclass
class MaintenanceReport:
    table: str
    files_before: int
    files_after: int
    compacted: dict[str, Any] = field(default_factory=dict)
    """optimize metrics (numFilesAdded, numFilesRemoved, ...)."""
    zorder_columns: list[str] = field(default_factory=list)
    vacuumed_files: int = 0
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def loads_since_optimize(table: Any) -> int:
    """Load commits (WRITE, MERGE...) after the table's last OPTIMIZE."""
    count = 0
    for commit in table.history():  # newest first
        if commit.get("operation") == "OPTIMIZE":
            break
        if commit.get("operation") in LOAD_OPERATIONS:
            count += 1
    return count


def is_due(table: Any, every: int) -> bool:
    return every > 0 and loads_since_optimize(table) >= every


def file_count(table: Any) -> int:
    import pyarrow as pa

    return pa.table(table.get_add_actions(flatten=True)).num_rows


def maintain(table: Any, name: str, zorder_columns: tuple[str, ...] = (),
             retention_hours: int = SAFE_RETENTION_HOURS) -> MaintenanceReport:
    """Compact (or Z-order), then vacuum; logs file counts before and after."""
    before = file_count(table)
    if zorder_columns:
        metrics = table.optimize.z_order(list(zorder_columns))
    else:
        metrics = table.optimize.compact()
    removed = table.vacuum(retention_hours=retention_hours, dry_run=False,
                           enforce_retention_duration=retention_hours >= SAFE_RETENTION_HOURS)
    table.update_incremental()
    report = MaintenanceReport(table=name, files_before=before, files_after=file_count(table),
                               compacted={k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
                               zorder_columns=list(zorder_columns), vacuumed_files=len(removed),
                               version=table.version())
    log.info("delta table %s maintained: %d files before, %d after (%s); vacuum removed %d files"
             " older than %d h; version %s", name, report.files_before, report.files_after,
             "z-order by " + ", ".join(zorder_columns) if zorder_columns else "compaction",
             report.vacuumed_files, retention_hours, report.version)
    return report
