"""The scratch folders that hold source rows are this app's user's only (issue 33, item 6):
ingest/core/private_folders.py, through the lake's working folder every load uses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ingest.core import private_folders
from ingest.core.errors import SettingError
from ingest.core.settings import Settings
from ingest.lake.destination import working_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_pipelines_folder_is_created_private(tmp_path):
    settings = Settings(pipelines_dir=tmp_path / "shared-tmp" / "ingest-pipelines", destination=str(tmp_path / "lake"))
    working_dir(settings)
    assert mode(settings.pipelines_dir) == 0o700


def test_a_world_readable_pipelines_folder_of_this_user_is_made_private(tmp_path):
    folder = tmp_path / "ingest-pipelines"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o777)
    working_dir(Settings(pipelines_dir=folder, destination=str(tmp_path / "lake")))
    assert mode(folder) == 0o700


def test_a_pipelines_folder_another_user_owns_is_refused(tmp_path, monkeypatch):
    """Whoever created the folder first in a shared /tmp could read every load through it. (Owning
    the folder as another user needs root; the check compares with the effective uid, so the
    test moves that instead: the one stand-in here.)"""
    folder = tmp_path / "ingest-pipelines"
    folder.mkdir()
    monkeypatch.setattr(private_folders.os, "geteuid", lambda: folder.stat().st_uid + 1)
    with pytest.raises(SettingError, match="belongs to another user.*INGEST_PIPELINES_DIR"):
        working_dir(Settings(pipelines_dir=folder, destination=str(tmp_path / "lake")))
