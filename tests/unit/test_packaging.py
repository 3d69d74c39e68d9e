"""The `ingest` command as a package (pyproject.toml): its dependencies are requirements.txt's
(what Azure's build installs), and `pip install .` gives a command that answers from any folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from ingest import __version__

REPO = Path(__file__).resolve().parents[2]


def requirements_txt() -> set[str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return {str(Requirement(line.split("#")[0].strip())) for line in lines if line.split("#")[0].strip()}


def test_the_package_depends_on_exactly_what_requirements_txt_lists():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert {str(Requirement(r)) for r in project["dependencies"]} == requirements_txt()
    assert project["scripts"] == {"ingest": "ingest.__main__:main"}


def test_pip_install_gives_an_ingest_command_that_works_from_any_folder(tmp_path):
    """Installed without its dependencies (they are this venv's already) into a folder of its own,
    then run from another folder: the command, its version, the templates shipped as data."""
    source, target = tmp_path / "source", tmp_path / "site"  # a copy: setuptools builds in the tree
    shutil.copytree(REPO / "ingest", source / "ingest", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, cwd=tmp_path)
    command = target / "bin" / "ingest"
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"ingest {__version__}"
    usage = subprocess.run([str(command), "--help"], capture_output=True, text=True, cwd=elsewhere, env=env)
    assert usage.returncode == 0 and re.search(r"usage: ingest ", usage.stdout)
    for shipped in ("alerts/templates/failure.html", "dashboard/templates/dashboard.html",
                    "dashboard/static/dashboard.js"):
        assert (target / "ingest" / shipped).is_file(), shipped
    template = subprocess.run([str(command), "template", "--out", "book.xlsx"], capture_output=True, text=True,
                              cwd=elsewhere, env=env)
    assert template.returncode == 0, template.stderr
    assert (elsewhere / "book.xlsx").stat().st_size > 0
