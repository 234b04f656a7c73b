"""Repo-wide contract: every paper folder has its files, tables expand, no paper imports another."""

import ast
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from common import config as C
from common import sweep as S
from common.claims import Claim

REPO = Path(__file__).resolve().parent.parent
PAPERS = REPO / "papers"
CONTRACT_FILES = ["README.md", "method.py", "config.py", "run.py", "paper_results.csv", "claims.py",
                  "__init__.py"]
INDEX = yaml.safe_load((PAPERS / "index.yaml").read_text())
SLUGS = [p["slug"] for p in INDEX]
FOLDERS = sorted(p.name for p in PAPERS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
#: Folders held to the paper contract: every paper, and the template a new paper is copied from.
CONTRACT = FOLDERS + ["_template"]


def test_index_lists_the_22_papers():
    assert len(SLUGS) == 22 and len(set(SLUGS)) == 22
    briefs = REPO.parent / "shared" / "papers" / "BRIEFS.md"
    if briefs.is_file():
        from_briefs = re.findall(r"^## \d+\. (\w+) ", briefs.read_text(), re.M)
        assert sorted(from_briefs) == sorted(SLUGS)


def test_every_folder_is_an_indexed_paper():
    assert set(FOLDERS) <= set(SLUGS), f"folders not in papers/index.yaml: {set(FOLDERS) - set(SLUGS)}"


@pytest.mark.parametrize("slug", CONTRACT)
def test_contract_files(slug):
    folder = PAPERS / slug
    missing = [f for f in CONTRACT_FILES if not (folder / f).is_file()]
    assert not missing, f"papers/{slug} lacks {missing}"
    assert list((folder / "tables").glob("*.yaml")), f"papers/{slug}/tables/*.yaml missing"
    assert list((folder / "tests").glob(f"test_{slug}_*.py")), f"papers/{slug}/tests/test_{slug}_*.py missing"
    readme = (folder / "README.md").read_text()
    assert "<!-- results:begin -->" in readme and "<!-- results:end -->" in readme


@pytest.mark.parametrize("slug", CONTRACT)
def test_paper_results_have_sources(slug):
    df = pd.read_csv(PAPERS / slug / "paper_results.csv", dtype=str, keep_default_na=False, comment="#")
    assert list(df.columns) == ["table", "dataset", "method", "setting", "metric", "value", "source"]
    for _, row in df.iterrows():
        float(row["value"])
        assert row["source"].strip(), f"{slug}: paper value without a source: {dict(row)}"


@pytest.mark.parametrize("slug", CONTRACT)
def test_tables_expand_and_validate_for_every_profile(slug):
    paper = S.load_paper(slug)
    assert paper.tables()
    for table in paper.tables():
        expanded = {}
        for profile in C.PROFILES:
            cells = expanded[profile] = S.expand_table(paper, table, profile)
            assert cells or S.skip_reason(paper, table, profile), f"{slug}/{table} [{profile}] expands to no cells"
            assert len({c.run_id for c in cells}) == len(cells), f"{slug}/{table} [{profile}] duplicate cells"
        if S.skip_reason(paper, table, "quick"):
            continue  # full-only table (its smoke and full profiles expanded above)
        quick_seeds = {c.values["seed"] for c in expanded["quick"]}
        assert len(quick_seeds) >= 3, f"{slug}/{table}: the quick profile needs at least 3 seeds"
    assert any(not S.skip_reason(paper, t, "quick") for t in paper.tables()), f"{slug}: no table runs in quick"


@pytest.mark.parametrize("slug", CONTRACT)
def test_claims_are_declared(slug):
    import importlib

    mod = importlib.import_module(f"papers.{slug}.claims")
    claims = getattr(mod, "CLAIMS", None)
    assert claims and all(isinstance(c, Claim) for c in claims)
    assert len({c.id for c in claims}) == len(claims)
    assert all(c.text.strip() and c.source.strip() for c in claims)


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


@pytest.mark.parametrize("slug", CONTRACT)
def test_no_paper_imports_another(slug):
    folder = PAPERS / slug
    for path in folder.rglob("*.py"):
        depth = len(path.relative_to(folder).parts) - 1  # package levels below papers/<slug>
        for module, level in _imports(path):
            if level == 0:
                parts = module.split(".")
                assert not (parts[0] == "papers" and len(parts) > 1 and parts[1] != slug), \
                    f"{path.relative_to(REPO)} imports {module}"
            else:
                assert level <= depth + 1, f"{path.relative_to(REPO)}: relative import leaves papers/{slug}"
