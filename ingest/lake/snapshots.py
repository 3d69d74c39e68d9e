"""FULL snapshot mode for parquet: one full copy of the table per day.

dlt's replace deletes every earlier file of the table, date folders included, so a FULL
parquet table shows only its newest copy. In snapshot mode the load appends instead (the
job's write disposition, ingest/lake/table_formats.py), into the run's date folder of the layout
(`{table}/{YYYY}/{MM}/{DD}/`), with a `_snapshot_date` column. After the load succeeded,
the files of earlier loads in that same folder are removed: a second run on one day replaces
that day's copy, and the folders of other days are never touched.

Reading: the latest snapshot is the newest date folder (or `WHERE _snapshot_date = (SELECT
max(_snapshot_date) ...)` over the whole table); a day's snapshot is its folder.
"""

from __future__ import annotations

import logging
from typing import Any

from ingest.core.errors import ConfigError

log = logging.getLogger("ingest.snapshots")
DAY_TOKENS = ("{YYYY}", "{MM}", "{DD}")


def check_layout(layout: str) -> None:
    """Snapshot mode needs a layout whose folder is the day (the default)."""
    folder = layout.rsplit("/", 1)[0]
    if not all(token in folder for token in DAY_TOKENS) or "{load_id}" in folder:
        raise ConfigError(f"full_mode snapshot needs a layout with day folders ({'/'.join(DAY_TOKENS)}) before"
                          f" the file name; INGEST_LAYOUT is {layout!r}")


def prune_same_day(fs: Any, root: str, day_folder: str, load_id: str) -> list[str]:
    """Remove files of other loads in `day_folder` (relative to `root`); returns them."""
    folder = f"{root.rstrip('/')}/{day_folder}"
    removed = []
    for path in fs.ls(folder, detail=False):
        name = str(path).rsplit("/", 1)[-1]
        if not name.startswith(f"{load_id}."):
            fs.rm(path)
            removed.append(f"{day_folder}/{name}")
    if removed:
        log.info("snapshot %s: replaced %d file(s) of an earlier load of the same day", day_folder, len(removed))
    return removed
