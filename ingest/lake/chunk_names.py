"""The names a chunked load gives its chunks and their files (README "Chunked loads"), each
made here and checked here: a name that comes back from an activity's input or a done.json
must be one this module makes before it can name a path in the lake or on disk.

    c000 .. c255, cnull                     a chunk (cnull: the rows whose split value is NULL)
    {12 hex digits}                         an attempt's folder in the lake's staging folder
    part-00000.parquet                      a staged part of an attempt
    chunk-{job}-{chunk}-{random}            a chunk's scratch pipeline in dlt's working folder
    commit-{random}                         the commit's scratch folder for imported files
"""

from __future__ import annotations

import re
import uuid

NULL_CHUNK = "cnull"
CHUNK_ID = re.compile(r"c(\d{3}|null)")
"""What chunk_id names (and NULL_CHUNK)."""
ATTEMPT = re.compile(r"[0-9a-f]{12}")
PART_FILE = re.compile(r"part-\d{5}\.parquet")
COMMIT_PREFIX = "commit-"


def chunk_id(index: int) -> str:
    """The id of the chunk at `index` in the split's order (0-based, below 1000)."""
    if not 0 <= index < 1000:
        raise ValueError(f"chunk index {index} out of range")
    return f"c{index:03d}"


def is_chunk_id(text: str) -> bool:
    return isinstance(text, str) and CHUNK_ID.fullmatch(text) is not None


def new_attempt() -> str:
    """A fresh attempt folder's name (and a download's file name stem)."""
    return uuid.uuid4().hex[:12]


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def scratch_prefix(job_name: str, chunk: str) -> str:
    """A chunk's scratch pipeline folder in dlt's working folder (the temporary folder adds a
    random suffix)."""
    return f"chunk-{job_name}-{chunk}-"


def is_scratch_of(folder_name: str, job_name: str) -> bool:
    """`folder_name` is a chunk scratch folder of `job_name` (one a killed process left)."""
    prefix = f"chunk-{job_name}-"
    if not folder_name.startswith(prefix):
        return False
    chunk, _, rest = folder_name[len(prefix):].partition("-")
    return is_chunk_id(chunk) and bool(rest) and "-" not in rest  # job names hold no "-"
