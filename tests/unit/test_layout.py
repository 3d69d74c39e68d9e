"""The layout of ingest/ by stage (docs/layout.md, "Where things are"): the folders tell the flow of one
run, and the import graph keeps to it. Each stage may import only the stages listed before it
(and itself); no module imports itself back through others; the top level stays small and no
function grows past a screen. Lazy imports inside functions count like the others."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "ingest"

STAGES = ["core", "config", "lake", "checks", "records", "plan", "sources", "load", "alerts", "dashboard",
          "drivers", "cli"]
"""Lowest first. lake and checks sit below records and plan because the records read check
findings and the plan reads the records (history) to decide what is due; sources sit above
plan because a source reads its load window from plan/load_modes.py."""

MAX_TOP_LEVEL_ENTRIES = 12
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "core"  # the package's own __init__: a version string
    return "cli" if parts[1] == "__main__" else parts[1]


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The ingest modules `module` imports (a package when a name is not a module of it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.split(".")[0] != "ingest":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "ingest")
    return found


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {module: imports_of(module, path, known) for module, path in found.items()}


def test_every_module_belongs_to_a_known_stage():
    unknown = sorted({stage_of(module) for module in modules()} - set(STAGES))
    assert unknown == [], f"add these to STAGES (and to docs/layout.md, 'Where things are'): {unknown}"


def test_the_import_graph_sees_lazy_and_package_imports():
    graph = import_graph()
    assert "ingest.sources.job_source" in graph["ingest.load"]
    assert "ingest.records.check_results" in graph["ingest.records.audit"]
    assert "ingest.lake.table_formats" in graph["ingest.lake.scd2"]  # a lazy import inside a function too


def test_no_stage_imports_a_later_stage():
    rank = {stage: index for index, stage in enumerate(STAGES)}
    upward = [f"{module} ({stage_of(module)}) imports {target} ({stage_of(target)})"
              for module, targets in import_graph().items() for target in targets
              if rank[stage_of(target)] > rank[stage_of(module)]]
    assert upward == [], "\n".join(sorted(upward))


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_circle():
    graph = {module: {t for t in targets if t != module} for module, targets in import_graph().items()}
    assert strongly_connected(graph) == []


def test_the_cycle_finder_finds_a_planted_circle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(planted) == [["a", "b", "c"]]


def test_the_top_level_stays_small():
    entries = sorted(p.name for p in PACKAGE.iterdir()
                     if p.name not in {"__init__.py", "__main__.py", "__pycache__"}
                     and (p.suffix == ".py" or (p / "__init__.py").exists()))
    assert len(entries) <= MAX_TOP_LEVEL_ENTRIES, entries


def test_each_stage_package_says_what_it_may_import():
    for stage in STAGES:
        init = PACKAGE / stage / "__init__.py"
        if not init.exists():
            continue  # load.py and cli.py: modules, not packages
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        below = STAGES[: STAGES.index(stage)]
        expected = "May import: " + (", ".join(below) if below else "nothing of ingest outside core") + "."
        assert expected in " ".join(docstring.split()), f"{init}: docstring should say {expected!r}"


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    assert long == [], "\n".join(long)


def test_the_layout_page_lists_each_stage_in_one_line():
    from tests.docs_pages import docs_page

    section = docs_page("layout").split("# Where things are", 1)[1].split("\n## ", 1)[0]
    for stage in STAGES:
        place = f"ingest/{stage}/" if (PACKAGE / stage).is_dir() else f"ingest/{stage}.py"
        assert any(line.startswith(place) for line in section.splitlines()), place


def test_every_module_path_the_docs_name_exists():
    """A path like `ingest/lake/scd2.py` or `ingest/drivers/azure/` in the README, docs/ or a
    docstring names a file or folder that is there (a move updates its docs)."""
    texts = [REPO / "README.md", *(REPO / "docs").rglob("*.md"), *PACKAGE.rglob("*.py")]
    missing = set()
    for path in texts:
        for name in re.findall(r"(?<![\w./-])ingest/[A-Za-z0-9_/]+(?:\.py|/)", path.read_text(encoding="utf-8")):
            if not (REPO / name).exists():
                missing.add(f"{path.relative_to(REPO)}: {name}")
    assert sorted(missing) == []


def test_every_ingest_import_anywhere_in_the_repo_resolves():
    """bench/, examples/, tests/ and function_app.py import ingest modules lazily inside functions
    that no test may run (the bench): each such import must name a module and names that exist."""
    import importlib

    skip = {".venv", ".tools", "node_modules", ".git"}
    broken = []
    for path in REPO.rglob("*.py"):
        if skip & set(path.relative_to(REPO).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "ingest":
                try:
                    module = importlib.import_module(node.module)
                except ImportError as exc:
                    broken.append(f"{path.relative_to(REPO)}:{node.lineno} {node.module}: {exc}")
                    continue
                for alias in node.names:
                    if not hasattr(module, alias.name):
                        try:
                            importlib.import_module(f"{node.module}.{alias.name}")
                        except ImportError:
                            broken.append(f"{path.relative_to(REPO)}:{node.lineno} {node.module}.{alias.name}")
    assert broken == [], "\n".join(broken)
