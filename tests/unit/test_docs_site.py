"""The docs are a site: `mkdocs build --strict` (MkDocs, Material theme; mkdocs.yml at the repo
root) builds docs/ without a warning, so a broken link, a broken anchor or a page missing from
the nav fails here; the README stays the short way in and links the pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README_MAX_LINES = 300


def nav_pages(nav) -> list[str]:
    """Every page a nav (lists of {title: page or sub-nav}) names, in order."""
    pages = []
    for entry in nav:
        for value in (entry.values() if isinstance(entry, dict) else [entry]):
            pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def config() -> dict:
    return yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))


def test_mkdocs_build_strict_passes(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its successor, not a build warning
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                           cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "WARNING" not in built.stderr, built.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists() and (tmp_path / "site" / "settings" / "index.html").exists()


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_exists():
    site = config()
    assert site["theme"]["name"] == "material"
    pages = nav_pages(site["nav"])
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(set(pages)) == on_disk, "add each docs/*.md page to mkdocs.yml's nav, and nothing else"
    assert len(pages) == len(set(pages)), "a page is in the nav twice"


def test_the_build_fetches_nothing():
    """The build runs offline: no plugin that downloads (social cards, privacy's asset fetch), no
    web fonts in the theme (the browser would fetch them, not the build; off anyway)."""
    site = config()
    assert set(site.get("plugins", ["search"])) <= {"search"}
    assert site["theme"].get("font") is False


def test_the_readme_is_short_and_keeps_what_the_app_will_not_do_without_asking():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    section = readme.split("\n## What the app will not do without asking\n", 1)[1].split("\n## ", 1)[0]
    assert section.count("\n- ") >= 6  # one bullet per guard
    for command in ("make run", "make test", "source .venv/bin/activate", "ingest --version",
                    "ingest discover", "ingest check", "ingest plan", "ingest run"):
        assert command in readme, command


def test_the_readme_links_every_page_and_its_links_resolve():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert [t for t in local if not (REPO / t).exists()] == []
    linked = {t for t in local if t.startswith("docs/")}
    assert {f"docs/{page}" for page in nav_pages(config()["nav"]) if page != "index.md"} - linked == set()


def test_the_readmes_ingest_commands_parse():
    """Each `ingest ...` line of the README's bash blocks is a command the CLI accepts (parsed, not
    run): the tour stays true when an option is renamed."""
    import shlex

    from ingest import cli

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = [line for block in re.findall(r"```bash\n(.*?)```", readme, re.S) for line in block.splitlines()
             if line.startswith("ingest ")]
    assert len(lines) >= 6
    for line in lines:
        argv = shlex.split(line, comments=True)[1:]
        if argv in (["--version"], ["--help"]):
            continue
        try:
            cli._parser().parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"README: {line}") from exc
