"""Files a person names for a command to write are never replaced without asking (README "What
the app will not do without asking"): `template --out`, `dashboard --out` and `workbook pull
--to` refuse a file that exists unless `--force`. (`discover` edits its workbook on purpose.)"""

from __future__ import annotations

from pathlib import Path

from ingest.core.errors import UserFileExistsError


def refuse_existing(path: Path, force: bool, option: str, what: str = "") -> None:
    """Raise UserFileExistsError when `path` exists (a dangling link too: writing would follow
    it) and not `force`. `option`: the command's option that named the file; `what`: why the
    file is the person's, said in the message."""
    if force or not (path.exists() or path.is_symlink()):
        return
    why = f" ({what})" if what else ""
    raise UserFileExistsError(f"{path} exists{why}: nothing written; choose another {option}, or add --force to"
                              " replace it")
