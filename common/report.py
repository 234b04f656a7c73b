"""Aggregation (runs -> results CSVs) and reports (claims, SUMMARY.md, README tables).

- :func:`aggregate` reads the finished run folders of a sweep and writes
  ``results/<slug>/<profile>/<table>_runs.csv`` (one row per run and metric) and
  ``<table>.csv`` (one row per cell and metric: mean, std, n_seeds, paper_value, delta).
- :func:`evaluate_paper` runs ``papers/<slug>/claims.py`` on those CSVs -> ``claims.csv``.
- :func:`write_summary` writes ``results/SUMMARY.md`` over all papers; :func:`update_readmes`
  regenerates the README paper index and each paper README's results section between markers.
"""

from __future__ import annotations

import importlib
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import yaml

from common import claims as CL
from common import results as R

PAPER_KEYS = ["table", "dataset", "method", "setting", "metric"]
INDEX_BEGIN, INDEX_END = "<!-- papers:begin -->", "<!-- papers:end -->"
RESULTS_BEGIN, RESULTS_END = "<!-- results:begin -->", "<!-- results:end -->"


def papers_dir() -> Path:
    from common.sweep import papers_dir as _papers_dir

    return _papers_dir()


def paper_index() -> list[dict]:
    """Entries of ``papers/index.yaml`` (slug, title, authors, venue, arxiv); [] when absent."""
    path = papers_dir() / "index.yaml"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or []


# --------------------------------------------------------------------------------------
# Aggregation.


def read_run_rows(folders: Iterable[Path]) -> list[dict]:
    rows: list[dict] = []
    for folder in folders:
        if R.is_done(folder) and (folder / "metrics.csv").is_file():
            rows.extend(R.read_csv(folder / "metrics.csv"))
    return rows


def load_paper_results(slug: str) -> pd.DataFrame:
    """``papers/<slug>/paper_results.csv``: table, dataset, method, setting, metric, value, source."""
    path = papers_dir() / slug / "paper_results.csv"
    cols = ["table", "dataset", "method", "setting", "metric", "value", "source"]
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    df = pd.read_csv(path, keep_default_na=False, dtype=str, comment="#")
    missing = set(cols) - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}; expected {cols}")
    return df[cols]


_NUM = re.compile(r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)")


def natural_key(text: str) -> tuple:
    """Sort key that orders numbers inside strings by value: 'n=5' < 'n=10'."""
    return tuple((0, float(part), "") if i % 2 else (1, 0.0, part)
                 for i, part in enumerate(_NUM.split(str(text))) if part != "")


def summarise(run_rows: Sequence[dict], paper_df: pd.DataFrame | None = None) -> list[dict]:
    """Group per-run rows into cells: mean, sample std, number of seeds, paper value, delta."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for row in run_rows:
        key = tuple(str(row[k]) for k in ["paper", "table", "profile", "dataset", "method", "setting", "metric"])
        groups[key].append(float(row["value"]))
    lookup: dict[tuple, str] = {}
    if paper_df is not None:
        for _, p in paper_df.iterrows():
            lookup[tuple(str(p[k]) for k in PAPER_KEYS)] = p["value"]
    out = []
    for key, values in sorted(groups.items(), key=lambda kv: tuple(natural_key(k) for k in kv[0])):
        arr = np.asarray(values, dtype=float)
        finite = arr[np.isfinite(arr)]
        mean = float(finite.mean()) if finite.size else float("nan")
        std = float(finite.std(ddof=1)) if finite.size > 1 else (0.0 if finite.size == 1 else float("nan"))
        paper, table, profile, dataset, method, setting, metric = key
        pv = lookup.get((table, dataset, method, setting, metric), "")
        delta = ""
        if pv != "" and math.isfinite(mean):
            delta = round(mean - float(pv), 6)
        out.append({"paper": paper, "table": table, "profile": profile, "dataset": dataset,
                    "method": method, "setting": setting, "metric": metric,
                    "mean": round(mean, 6), "std": round(std, 6), "n_seeds": int(finite.size),
                    "paper_value": pv, "delta": delta})
    return out


def aggregate(slug: str, profile: str, folders_by_table: dict[str, list[Path]],
              out_root: Path | None = None) -> dict[str, Path]:
    """Write the runs and cells CSVs of each table; returns table -> cells CSV path."""
    out_dir = (out_root or R.results_root()) / slug / profile
    paper_df = load_paper_results(slug)
    written = {}
    for table, folders in sorted(folders_by_table.items()):
        rows = read_run_rows(folders)
        if not rows:
            continue
        rows.sort(key=lambda r: tuple(natural_key(r[k]) for k in ["dataset", "method", "setting", "metric", "seed"]))
        R.write_csv_atomic(out_dir / f"{table}_runs.csv", rows, R.RUN_COLUMNS)
        R.write_csv_atomic(out_dir / f"{table}.csv", summarise(rows, paper_df), R.CELL_COLUMNS)
        written[table] = out_dir / f"{table}.csv"
    return written


# --------------------------------------------------------------------------------------
# Claims.


def profiles_with_results(slug: str, root: Path | None = None) -> list[str]:
    base = (root or R.results_root()) / slug
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and any(p.glob("*.csv")))


def evaluate_paper(slug: str, profile: str, root: Path | None = None) -> list[dict]:
    """Evaluate ``papers/<slug>/claims.py`` on the results of one profile; writes claims.csv."""
    folder = (root or R.results_root()) / slug / profile
    try:
        from common.sweep import papers_package

        mod = importlib.import_module(f"{papers_package()}.{slug}.claims")
    except ModuleNotFoundError:
        return []
    verdicts = CL.evaluate(list(getattr(mod, "CLAIMS", [])), CL.Results(folder, slug, profile))
    if folder.is_dir():
        R.write_csv_atomic(folder / "claims.csv", verdicts, ["id", "claim", "source", "status", "evidence"])
    return verdicts


# --------------------------------------------------------------------------------------
# Markdown.


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(x) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "nan"
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}"


def cells_markdown(df: pd.DataFrame, with_paper: bool = True) -> str:
    rows = []
    for _, r in df.iterrows():
        cell = f"{_num(r['mean'])} ± {_num(r['std'])}"
        row = [r["dataset"], r["method"], r["setting"], r["metric"], cell, r["n_seeds"]]
        if with_paper:
            row += [_num(r["paper_value"]) if r["paper_value"] != "" else "", _num(r["delta"]) if r["delta"] != "" else ""]
        rows.append(row)
    headers = ["dataset", "method", "setting", "metric", "ours (mean ± std)", "seeds"]
    if with_paper:
        headers += ["paper", "delta"]
    return md_table(headers, rows)


def claims_markdown(verdicts: list[dict]) -> str:
    return md_table(["id", "claim", "source", "verdict", "evidence"],
                    [[v["id"], v["claim"], v["source"], f"**{v['status']}**", v["evidence"]] for v in verdicts])


def _read_cells(folder: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for path in sorted(folder.glob("*.csv")):
        if R.is_cell_table(path):
            out[path.stem] = pd.read_csv(path, keep_default_na=False,
                                         dtype={"setting": str, "paper_value": str, "delta": str})
    return out


def paper_status(slug: str, root: Path | None = None) -> tuple[str, str]:
    """(status, claims held) for the README index."""
    if not (papers_dir() / slug / "run.py").is_file():
        return "not started", ""
    profiles = profiles_with_results(slug, root)
    if not profiles:
        return "code, no results yet", ""
    parts, held_total = [], []
    for profile in profiles:
        csv_path = (root or R.results_root()) / slug / profile / "claims.csv"
        if csv_path.is_file():
            df = pd.read_csv(csv_path, keep_default_na=False)
            held = int((df["status"] == CL.HELD).sum())
            held_total.append(f"{held}/{len(df)} ({profile})")
        parts.append(profile)
    return "results: " + ", ".join(parts), "; ".join(held_total)


def paper_results_section(slug: str, root: Path | None = None) -> str:
    base = (root or R.results_root()) / slug
    lines = ["_Generated by `make results` from `results/" + slug + "/`; do not edit by hand._", ""]
    profiles = profiles_with_results(slug, root)
    if not profiles:
        return "\n".join(lines + ["No results committed yet."])
    for profile in profiles:
        folder = base / profile
        lines.append(f"### Profile `{profile}`")
        lines.append("")
        for table, df in _read_cells(folder).items():
            lines += [f"**{table}** (`results/{slug}/{profile}/{table}.csv`)", "", cells_markdown(df), ""]
        claims_csv = folder / "claims.csv"
        if claims_csv.is_file():
            verdicts = pd.read_csv(claims_csv, keep_default_na=False).to_dict("records")
            lines += ["**Claims**", "", claims_markdown(verdicts), ""]
    return "\n".join(lines).rstrip() + "\n"


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers {begin} ... {end} not found")
    return pattern.sub(lambda _: f"{begin}\n{body.rstrip()}\n{end}", text, count=1)


def index_markdown(root: Path | None = None) -> str:
    rows = []
    for p in paper_index():
        status, claims_held = paper_status(p["slug"], root)
        link = f"[`{p['slug']}`](papers/{p['slug']}/)" if (papers_dir() / p["slug"]).is_dir() else f"`{p['slug']}`"
        rows.append([link, p["title"], p["venue"], status, claims_held])
    return md_table(["paper", "title", "venue", "status", "claims held"], rows)


def write_summary(root: Path | None = None, out: Path | None = None) -> Path:
    """``results/SUMMARY.md``: per paper, claims verdicts and paper-vs-ours tables."""
    root = root or R.results_root()
    lines = ["# Results summary", "",
             "Generated by `make results` from the committed `results/<paper>/<profile>/*.csv` and each "
             "paper's `claims.py`. Profiles: `quick` = CPU stand-in setting (see each paper README), "
             "`full` = the paper's setting.", "", index_markdown(root), ""]
    for p in paper_index():
        slug = p["slug"]
        profiles = profiles_with_results(slug, root)
        if not profiles:
            continue
        lines += [f"## {slug}: {p['title']} ({p['venue']})", ""]
        for profile in profiles:
            verdicts = evaluate_paper(slug, profile, root)
            counts = {s: sum(v["status"] == s for v in verdicts) for s in (CL.HELD, CL.NOT_HELD, CL.NOT_MEASURED)}
            lines += [f"### `{profile}`: {counts[CL.HELD]} held, {counts[CL.NOT_HELD]} not held, "
                      f"{counts[CL.NOT_MEASURED]} not measured", ""]
            if verdicts:
                lines += [claims_markdown(verdicts), ""]
            paired = []
            for table, df in _read_cells(root / slug / profile).items():
                sub = df[df["paper_value"] != ""]
                if len(sub):
                    paired.append(f"Paper vs ours, `{table}`:\n\n" + cells_markdown(sub))
            lines += paired + ([""] if paired else [])
    out = out or root / "SUMMARY.md"
    R.write_text_atomic(out, "\n".join(lines).rstrip() + "\n")
    return out


def update_readmes(root: Path | None = None, readme: Path | None = None) -> None:
    """Regenerate the README paper index and each paper README's results section."""
    readme = readme or R.REPO_ROOT / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        if INDEX_BEGIN in text:
            R.write_text_atomic(readme, replace_between(text, INDEX_BEGIN, INDEX_END, index_markdown(root)))
    for p in paper_index():
        update_paper_readme(p["slug"], root)


def update_paper_readme(slug: str, root: Path | None = None) -> None:
    """Regenerate the results section of ``papers/<slug>/README.md`` (between the markers)."""
    path = papers_dir() / slug / "README.md"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if RESULTS_BEGIN in text:
            new = replace_between(text, RESULTS_BEGIN, RESULTS_END, paper_results_section(slug, root))
            if new != text:
                R.write_text_atomic(path, new)


def make_results(root: Path | None = None) -> Path:
    """What ``make results`` does: claims of every paper and profile, SUMMARY.md, README tables."""
    out = write_summary(root)
    update_readmes(root)
    return out
