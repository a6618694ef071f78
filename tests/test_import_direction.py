"""The house's one-way flow, read from every module's imports (no code is run)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "browserdl"
# models → converter → loaders → results → reports: a package imports only those before it,
# except `results`, the neutral records and store that loaders write and reports read.
FLOW = ["models", "converter", "loaders", "results", "reports"]
SHARED = {"errors", "workspace", "environment", "quiet", "__init__"}  # importable by all
TOP = {"cli", "pipeline", "study", "conversion", "doctor", "__main__"}  # above the flow: may import all


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return [name for name in found if name.split(".")[0] == "browserdl"]


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _allowed(importer: str, imported: str) -> bool:
    if imported in SHARED or importer in TOP or imported == importer:
        return True
    if importer in SHARED:
        return imported in SHARED
    if imported in TOP:
        return False
    if importer == "results":
        return False  # neutral: it knows nothing of who writes or reads it
    if imported == "results":
        return True
    return FLOW.index(imported) < FLOW.index(importer)


def test_no_import_runs_back_up_the_flow():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        importer = _package(".".join(rel.parts))
        for module in _imports(path):
            imported = _package(module)
            if imported not in FLOW and imported not in SHARED | TOP:
                continue  # `from browserdl import __version__` and the like
            if not _allowed(importer, imported):
                wrong.append(f"{rel}: imports {module}")
    assert wrong == []


def test_the_rule_catches_what_it_forbids():
    assert not _allowed("loaders", "reports") and not _allowed("converter", "loaders")
    assert not _allowed("results", "loaders") and not _allowed("models", "converter")
    assert _allowed("loaders", "results") and _allowed("reports", "results")
    assert _allowed("reports", "loaders") and _allowed("pipeline", "reports")


def test_reports_never_import_a_driver():
    drivers = {"browserdl.loaders.session", "browserdl.loaders.browser", "browserdl.loaders.server",
               "browserdl.loaders.browser_runner", "browserdl.loaders.native"}
    used = {m for path in (PACKAGE / "reports").rglob("*.py") for m in _imports(path)}
    assert used & drivers == set()
