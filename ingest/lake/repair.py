"""Repair what a killed load can leave half-written in the lake, before dlt reads it.

dlt's filesystem destination writes its bookkeeping files (`_dlt_pipeline_state`,
`_dlt_version`, `_dlt_loads`) with a plain write, and on a local or mounted lake a process
killed mid-write leaves an empty or truncated file. dlt then picks the newest state file
without checking it and every later run of the pipeline fails while parsing it. (On blob
storage an upload is all or nothing, so this is a local-lake problem.)

The state file is written after every data file of its load package was copied. So a
broken state file means: that load's data is in the lake but its state never committed.
- If this machine still holds the load package, dlt finishes it on the next run and writes
  the state again: only the broken file is removed.
- If not (a fresh machine), the load is rolled back: the broken state file and the
  package's data files (named `{load_id}.*`) are removed, and the next run extracts those
  rows again from the last committed state. No row is lost and none is duplicated.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

log = logging.getLogger("ingest.lake_repair")
STATE_DIR, VERSION_DIR, LOADS_DIR = "_dlt_pipeline_state", "_dlt_version", "_dlt_loads"


@dataclass
class RepairReport:
    removed: list[str] = field(default_factory=list)
    rolled_back_loads: list[str] = field(default_factory=list)


def _is_broken_json(fs: Any, path: str) -> bool:
    try:
        json.loads(fs.read_text(path, encoding="utf-8"))
        return False
    except (ValueError, UnicodeDecodeError):
        return True


def _load_id_of(name: str, prefix: str) -> str:
    return name[len(prefix):].split("__", 1)[0].removesuffix(".jsonl")


def repair_pipeline_files(fs: Any, dataset_path: str, pipeline_name: str, schema_name: str,
                          table_names: str | Sequence[str], pending_load_ids: set[str]) -> RepairReport:
    """Remove broken bookkeeping files of one pipeline; roll back loads whose state broke
    and that this machine cannot finish. `dataset_path` is the dataset folder in `fs`;
    `table_names`: the tables the pipeline appends files to (a CDC connection's pipeline has
    several; a Delta table's files are not named by load and stay: its MERGE is applied again,
    which gives the same rows).

    Only the newest file of each folder is read (a killed load can only have broken the
    newest, and it is the one dlt reads), and again after a removal: the cost stays flat as
    loads accumulate."""
    report = RepairReport()
    root = dataset_path.rstrip("/")
    prefixes = {STATE_DIR: f"{pipeline_name}__", VERSION_DIR: f"{schema_name}__", LOADS_DIR: f"{schema_name}__"}
    for folder, prefix in prefixes.items():
        directory = f"{root}/{folder}"
        if not fs.exists(directory):
            continue
        names = sorted((str(p).rsplit("/", 1)[-1] for p in fs.ls(directory, detail=False)
                        if str(p).rsplit("/", 1)[-1].startswith(prefix)),
                       key=lambda n: _load_id_of(n, prefix))
        while names:
            name = names.pop()
            path = f"{directory}/{name}"
            if not _is_broken_json(fs, path):
                break
            fs.rm(path)
            report.removed.append(f"{folder}/{name}")
            log.warning("removed a half-written %s file left by a killed load: %s", folder, name)
            if folder == STATE_DIR:
                load_id = _load_id_of(name, prefix)
                if load_id not in pending_load_ids:
                    for table_name in [table_names] if isinstance(table_names, str) else table_names:
                        _roll_back(fs, f"{root}/{table_name}", load_id, report)
    return report


def _roll_back(fs: Any, table_dir: str, load_id: str, report: RepairReport) -> None:
    if fs.exists(table_dir):
        for path in fs.find(table_dir):
            if str(path).rsplit("/", 1)[-1].startswith(f"{load_id}."):
                fs.rm(path)
                report.removed.append(str(path))
    report.rolled_back_loads.append(load_id)
    log.warning("rolled back load %s of %s: its state never committed; its rows load again", load_id, table_dir)
