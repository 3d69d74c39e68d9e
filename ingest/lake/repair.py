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

A load killed after its data files were copied but before its state file was written leaves no
broken file, only data files of a load the lake never committed (no state, no `_dlt_loads`
marker). On the machine that holds its package dlt finishes it (same file names); on a fresh
machine `roll_back_uncommitted_loads` removes them (used by load_type CDC, whose re-read would
append them again).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

log = logging.getLogger("ingest.lake_repair")
STATE_DIR, VERSION_DIR, LOADS_DIR = "_dlt_pipeline_state", "_dlt_version", "_dlt_loads"


KeepFile = Callable[[Any, str], bool]
"""(filesystem, path) -> whether a rolled-back load's data file stays."""


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
                          table_names: Sequence[str], pending_load_ids: set[str],
                          keep: KeepFile | None = None) -> RepairReport:
    """Remove broken bookkeeping files of one pipeline; roll back loads whose state broke
    and that this machine cannot finish. `dataset_path` is the dataset folder in `fs`;
    `table_names`: the tables the pipeline appends files to (a CDC connection's pipeline has
    several; a Delta table's files are not named by load and stay: its MERGE is applied again,
    which gives the same rows). `keep(fs, path)`: a rolled-back load's data file to leave.

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
                    for table_name in table_names:
                        _roll_back(fs, f"{root}/{table_name}", load_id, report, keep)
    return report


def _roll_back(fs: Any, table_dir: str, load_id: str, report: RepairReport, keep: KeepFile | None = None) -> None:
    if fs.exists(table_dir):
        for path in fs.find(table_dir):
            if str(path).rsplit("/", 1)[-1].startswith(f"{load_id}.") and not (keep and keep(fs, str(path))):
                fs.rm(path)
                report.removed.append(str(path))
    report.rolled_back_loads.append(load_id)
    log.warning("rolled back load %s of %s: its state never committed; its rows load again", load_id, table_dir)


LOAD_ID_FILE = re.compile(r"^(\d+\.\d+)\.")
"""A data file named by the default layout, `{load_id}.{file_id}.{ext}` (dlt's load ids are
timestamps); files named otherwise are never touched."""


def _load_ids(fs: Any, directory: str, prefix: str) -> set[str]:
    if not fs.exists(directory):
        return set()
    names = (str(p).rsplit("/", 1)[-1] for p in fs.ls(directory, detail=False))
    return {_load_id_of(n, prefix) for n in names if n.startswith(prefix)}


def roll_back_uncommitted_loads(fs: Any, dataset_path: str, pipeline_name: str, schema_name: str,
                                table_names: Sequence[str], pending_load_ids: set[str],
                                keep: KeepFile | None = None) -> RepairReport:
    """Remove the data files of `table_names` whose load has neither a state file of
    `pipeline_name` nor a `_dlt_loads` marker of `schema_name`, and is not pending on this
    machine: loads killed before their state was written. Lists every file of the tables: for a
    machine that lost its working folder, not for every run. `keep(fs, path)`: a file to leave."""
    report = RepairReport()
    root = dataset_path.rstrip("/")
    committed = (_load_ids(fs, f"{root}/{STATE_DIR}", f"{pipeline_name}__")
                 | _load_ids(fs, f"{root}/{LOADS_DIR}", f"{schema_name}__") | set(pending_load_ids))
    for table_name in table_names:
        table_dir = f"{root}/{table_name}"
        if not fs.exists(table_dir):
            continue
        for path in fs.find(table_dir):
            match = LOAD_ID_FILE.match(str(path).rsplit("/", 1)[-1])
            if match and match.group(1) not in committed and not (keep and keep(fs, str(path))):
                fs.rm(path)
                report.removed.append(str(path))
                if match.group(1) not in report.rolled_back_loads:
                    report.rolled_back_loads.append(match.group(1))
    for load_id in report.rolled_back_loads:
        log.warning("rolled back load %s: its files reached the lake but its state never did; its rows load again",
                    load_id)
    return report


def repair_pipeline(pipeline: Any, schema_name: str, table_names: Sequence[str], keep: KeepFile | None = None,
                    uncommitted_in: Sequence[str] = ()) -> None:
    """What a killed load of `pipeline` left half done in the lake: `repair_pipeline_files` for
    its `table_names`, then `roll_back_uncommitted_loads` for `uncommitted_in` (a machine that lost
    the pipeline's working folder). Loads whose package this machine still holds are left to dlt."""
    from ingest.lake.client import lake_client

    pending = set(pipeline.list_extracted_load_packages()) | set(pipeline.list_normalized_load_packages())
    with lake_client(pipeline) as client:
        fs, dataset = client.fs_client, client.dataset_path
        if not fs.exists(dataset):
            return
        repair_pipeline_files(fs, dataset, pipeline.pipeline_name, schema_name, table_names, pending, keep)
        if uncommitted_in:
            roll_back_uncommitted_loads(fs, dataset, pipeline.pipeline_name, schema_name, uncommitted_in, pending, keep)
