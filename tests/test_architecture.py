"""Architecture bars (issue 12): no import circles in common/ and papers/, no paper imports another,
size limits per file role, no figure code in run.py, browsable READMEs with their generated tables."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAPERS = REPO / "papers"
PAPER_DIRS = sorted(p for p in PAPERS.iterdir() if p.is_dir() and (p / "run.py").is_file())
#: Papers whose file-role restructure (issue 12) has not landed yet: their size/role check is an
#: expected failure, strict, so it turns red the moment the restructure lands and this entry must go.
PENDING_ROLES: dict[str, str] = {}


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources():
    for root in ("common", "papers"):
        for path in sorted((REPO / root).rglob("*.py")):
            if "tests" not in path.relative_to(REPO).parts:
                yield path


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (at module level or inside functions)."""
    files = {_module_name(p): p for p in _sources()}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                # the longest project module the name refers to (a package's __init__ counts)
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    graph[mod].add(name)
    return graph


def _cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def _package_level(graph):
    """Collapse modules to packages' own modules: an __init__ re-exporting a submodule is no circle."""
    return {m: {d for d in deps if not m.startswith(d + ".") and not d.startswith(m + ".")} for m, deps in graph.items()}


def test_import_graph_has_no_circles():
    cycles = _cycles(_package_level(import_graph()))
    assert not cycles, f"import circles: {cycles}"


def test_the_circle_detector_finds_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_paper_imports_another():
    for mod, deps in import_graph().items():
        if mod.startswith("papers."):
            own = ".".join(mod.split(".")[:2])
            others = [d for d in deps if d.startswith("papers.") and not d.startswith(own)]
            assert not others, f"{mod} imports {others}"


def test_common_never_imports_a_paper_statically():
    for mod, deps in import_graph().items():
        if mod.startswith("common."):
            assert not [d for d in deps if d.startswith("papers.")], mod


@pytest.mark.parametrize("paper", [pytest.param(p, marks=pytest.mark.xfail(reason=PENDING_ROLES[p.name], strict=True))
                                   if p.name in PENDING_ROLES else p for p in PAPER_DIRS], ids=lambda p: p.name)
def test_file_sizes_and_roles(paper):
    for path in paper.rglob("*.py"):
        if "tests" in path.relative_to(paper).parts:
            continue
        n = len(path.read_text(encoding="utf-8").splitlines())
        assert n <= 400, f"{path.relative_to(REPO)} has {n} lines (> 400)"
    run_src = (paper / "run.py").read_text(encoding="utf-8")
    assert len(run_src.splitlines()) <= 250, f"{paper.name}/run.py has {len(run_src.splitlines())} lines (> 250)"
    assert "matplotlib" not in run_src and "plotting" not in run_src, f"{paper.name}/run.py draws figures"
    assert "def make_figures" not in run_src, f"{paper.name}: make_figures belongs in figures.py"
    if (paper / "baselines.py").is_file():
        assert "METHODS" in (paper / "baselines.py").read_text(encoding="utf-8"), f"{paper.name}: METHODS registry"


@pytest.mark.parametrize("paper", PAPER_DIRS, ids=lambda p: p.name)
def test_readme_is_browsable(paper):
    text = (paper / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250, f"{paper.name}/README.md has {len(text.splitlines())} lines (> 250)"
    for marker in ("/work/", "/home/", "/tmp/", "/root/"):
        assert marker not in text, f"{paper.name}/README.md names a development-machine path ({marker})"
    results = REPO / "results" / paper.name
    for profile in ("quick", "full"):
        folder = results / profile
        if folder.is_dir() and list(folder.glob("*_runs.csv")):
            assert (folder / "TABLES.md").is_file(), f"results/{paper.name}/{profile}/TABLES.md missing"
            for png in folder.glob("*.png"):
                assert f"{profile}/{png.name})" in text, f"{paper.name}/README.md does not embed {png.name}"
