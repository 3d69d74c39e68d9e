"""The app's scratch folders hold source rows (dlt's extracted and normalised files, CDC spill
and snapshot files): only the app's own user may enter them. On Azure the default is a folder
in a shared /tmp, so the top folder is made 0700 and one that another user owns is refused
(someone who created it first could read every load through it)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ingest.core.errors import SettingError

PRIVATE_MODE = 0o700

_checked: set[Path] = set()


def private_folder(path: Path) -> Path:
    """`path`, created 0700 if missing, made 0700 if it is this user's with wider rights;
    SettingError when another user owns it. Checked once per process and folder."""
    if path in _checked and path.is_dir():
        return path
    path.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise SettingError(f"the pipelines folder {path} belongs to another user (uid {info.st_uid}): anyone"
                           " who owns it can read the rows loaded through it; set INGEST_PIPELINES_DIR to a"
                           " folder of this app's own")
    if stat.S_IMODE(info.st_mode) != PRIVATE_MODE:
        os.chmod(path, PRIVATE_MODE)
    _checked.add(path)
    return path
