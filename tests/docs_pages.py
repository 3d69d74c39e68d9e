"""The documentation site's pages (docs/*.md, built with MkDocs: mkdocs.yml) as tests read them:
the README is the way in, the reference text lives on these pages."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def docs_page(name: str) -> str:
    """The text of docs/<name>.md, e.g. docs_page("settings")."""
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")
