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
    from common.registry import papers_dir as _papers_dir

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


def _cell_label(folder: Path) -> str:
    try:
        import json

        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))["meta"]
        return " ".join(f"{k}={v}" for k, v in meta.get("cell", {}).items()) or folder.name
    except (OSError, ValueError, KeyError):
        return folder.name


def committed_results_dir(out_dir: Path) -> bool:
    """True for the repository's own ``results/`` (what gets committed), False for scratch roots."""
    try:
        return Path(out_dir).resolve().is_relative_to((R.REPO_ROOT / "results").resolve())
    except OSError:
        return False


def aggregate(slug: str, profile: str, folders_by_table: dict[str, list[Path]],
              out_root: Path | None = None) -> dict[str, Path]:
    """Write the runs and cells CSVs of each table; returns table -> cells CSV path.

    Cells that failed or did not finish are listed in ``<table>_missing.csv`` (claims reading the
    table are then "not measured"). Into the repository's ``results/`` (not smoke), rows from
    uncommitted code or from several commits are refused unless ``ALLOW_DIRTY=1``.
    """
    out_dir = (out_root or R.results_root()) / slug / profile
    paper_df = load_paper_results(slug)
    guarded = profile != "smoke" and committed_results_dir(out_dir)
    written = {}
    for table, folders in sorted(folders_by_table.items()):
        rows = read_run_rows(folders)
        missing = [{"cell": _cell_label(f), "run_id": f.name} for f in folders if not R.is_done(f)]
        if not rows:
            continue
        if guarded:
            R.check_provenance(rows, f"results/{slug}/{profile}/{table}")
        rows.sort(key=lambda r: tuple(natural_key(r[k]) for k in ["dataset", "method", "setting", "metric", "seed"]))
        R.write_csv_atomic(out_dir / f"{table}_runs.csv", rows, R.RUN_COLUMNS)
        R.write_csv_atomic(out_dir / f"{table}.csv", summarise(rows, paper_df), R.CELL_COLUMNS)
        miss_path = out_dir / f"{table}_missing.csv"
        if missing:
            R.write_csv_atomic(miss_path, missing, ["cell", "run_id"])
        else:
            miss_path.unlink(missing_ok=True)
        written[table] = out_dir / f"{table}.csv"
    if written:
        write_tables_md(slug, profile, out_root)
    return written


def make_paper_figures(slug: str, profile: str, root: Path | None = None) -> bool:
    """Call ``papers/<slug>/figures.py: make_figures(results_dir, profile)``; it reads only results/."""
    from common.registry import papers_package

    out_dir = (root or R.results_root()) / slug / profile
    try:
        mod = importlib.import_module(f"{papers_package()}.{slug}.figures")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith(f"{slug}.figures"):
            return False
        raise
    fn = getattr(mod, "make_figures", None)
    if callable(fn) and out_dir.is_dir():
        fn(out_dir, profile)
        return True
    return False


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
        from common.registry import papers_package

        mod = importlib.import_module(f"{papers_package()}.{slug}.claims")
    except ModuleNotFoundError:
        return []
    verdicts = CL.evaluate(list(getattr(mod, "CLAIMS", [])), CL.Results(folder, slug, profile))
    if folder.is_dir():
        R.write_csv_atomic(folder / "claims.csv", [CL.to_csv_row(v) for v in verdicts], CL.CLAIM_COLUMNS)
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


def claims_markdown(verdicts: list[dict], kind: str = "claim") -> str:
    rows = []
    for v in verdicts:
        if v.get("kind", "claim") != kind:
            continue
        ci = f"[{v['ci_low']}, {v['ci_high']}]" if str(v.get("ci_low", "")) != "" else ""
        rows.append([v["id"], v["claim"], v["source"], f"**{v['status']}**", v.get("effect", ""), ci,
                     v.get("margin", ""), v["evidence"]])
    return md_table(["id", "claim" if kind == "claim" else "sanity check", "source", "verdict", "effect",
                     "95% CI", "margin", "evidence"], rows)


def _read_claims(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [CL.from_csv_row(r) for r in pd.read_csv(path, keep_default_na=False, dtype=str).to_dict("records")]


def counts_text(verdicts: list[dict]) -> str:
    c, sc = CL.counts(verdicts, "claim"), CL.counts(verdicts, "sanity")
    text = (f"{c[CL.HELD]} held, {c[CL.NOT_HELD]} not held, {c[CL.INCONCLUSIVE]} inconclusive, "
            f"{c[CL.NOT_MEASURED]} not measured")
    n_s = sum(sc.values())
    if n_s:
        text += f"; sanity checks {sc[CL.HELD]}/{n_s} passed"
    return text


def _read_cells(folder: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for path in sorted(folder.glob("*.csv")):
        if R.is_cell_table(path):
            out[path.stem] = pd.read_csv(path, keep_default_na=False,
                                         dtype={"setting": str, "paper_value": str, "delta": str})
    return out


def paper_status(slug: str, root: Path | None = None) -> tuple[str, str]:
    """(status, claim verdict counts) for the README index."""
    if not (papers_dir() / slug / "run.py").is_file():
        return "not started", ""
    profiles = [p for p in profiles_with_results(slug, root) if p in COMMITTED_PROFILES]  # not smoke/variants
    if not profiles:
        return "code, no results yet", ""
    parts = []
    for profile in profiles:
        verdicts = _read_claims((root or R.results_root()) / slug / profile / "claims.csv")
        if verdicts:
            parts.append(f"{profile}: {counts_text(verdicts)}")
    return "results: " + ", ".join(profiles), "; ".join(parts)


COMMITTED_PROFILES = ("quick", "full")


def provenance_line(folder: Path) -> str:
    shas, dirty = set(), False
    for path in sorted(folder.glob("*_runs.csv")):
        df = pd.read_csv(path, keep_default_na=False, dtype=str, usecols=["git_sha"])
        shas |= set(df["git_sha"])
    dirty = any(x.endswith("+dirty") for x in shas)
    text = "commit " + ", ".join(f"`{x}`" for x in sorted(shas)) if shas else "no runs"
    if dirty or len(shas) > 1:
        text += (" — **warning: made from uncommitted code or several commits (ALLOW_DIRTY=1); not a "
                 "clean reproduction**")
    return text


def headline_markdown(slug: str, folder: Path) -> list[str]:
    """The paper's headline tables: ``HEADLINE`` in its claims.py, a list of dicts with table, metric,
    rows (a column, default method), cols (default dataset), optional filters and title. Cells show
    mean ± std over seeds, and the paper's value in brackets where known."""
    from common.registry import papers_package

    try:
        mod = importlib.import_module(f"{papers_package()}.{slug}.claims")
    except ModuleNotFoundError:
        return []
    out = []
    for spec in getattr(mod, "HEADLINE", []):
        path = folder / f"{spec['table']}.csv"
        if not path.is_file():
            continue
        df = pd.read_csv(path, keep_default_na=False, dtype={"setting": str, "paper_value": str})
        df = df[df["metric"] == spec["metric"]]
        for k, v in (spec.get("filters") or {}).items():
            df = df[df[k].astype(str).isin([str(x) for x in (v if isinstance(v, list) else [v])])]
        if df.empty:
            continue
        rk, ck = spec.get("rows", "method"), spec.get("cols", "dataset")
        rows_order = list(dict.fromkeys(spec.get("row_order") or df[rk]))
        cols_order = sorted(dict.fromkeys(df[ck]), key=natural_key)
        body = []
        for r in rows_order:
            line = [r]
            for c in cols_order:
                sub = df[(df[rk] == r) & (df[ck] == c)]
                if sub.empty:
                    line.append("")
                    continue
                x = sub.iloc[0]
                cell = f"{_num(x['mean'])} ± {_num(x['std'])}"
                if x["paper_value"] != "":
                    cell += f" ({_num(x['paper_value'])})"
                line.append(cell)
            body.append(line)
        title = spec.get("title") or f"{spec['table']}: {spec['metric']}"
        out += [f"**{title}** — mean ± std over seeds; the paper's number in brackets where known "
                f"([`{spec['table']}.csv`](../../results/{slug}/{folder.name}/{spec['table']}.csv))", "",
                md_table([rk] + cols_order, body), ""]
    return out


def paper_results_section(slug: str, root: Path | None = None) -> str:
    """The generated block of a paper README: per committed profile, provenance, headline tables,
    figures, claims and sanity checks; the every-metric tables are linked (TABLES.md)."""
    base = (root or R.results_root()) / slug
    lines = [f"_Generated by `make results` from `results/{slug}/`; do not edit by hand._", ""]
    profiles = [p for p in profiles_with_results(slug, root) if p in COMMITTED_PROFILES]
    if not profiles:
        return "\n".join(lines + ["No results committed yet."])
    for profile in profiles:
        folder = base / profile
        rel = f"../../results/{slug}/{profile}"
        verdicts = _read_claims(folder / "claims.csv")
        lines += [f"### Profile `{profile}`", "",
                  f"Claims: {counts_text(verdicts)}. Runs: {provenance_line(folder)}. Every table and metric: "
                  f"[`TABLES.md`]({rel}/TABLES.md).", ""]
        lines += headline_markdown(slug, folder)
        for png in sorted(folder.glob("*.png")):
            lines += [f"![{png.stem}]({rel}/{png.name})", ""]
        if any(v.get("kind", "claim") == "claim" for v in verdicts):
            lines += ["**Claims**", "", claims_markdown(verdicts, "claim"), ""]
        if any(v.get("kind") == "sanity" for v in verdicts):
            lines += ["**Sanity checks** (protocol checks; not counted as claims)", "",
                      claims_markdown(verdicts, "sanity"), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_tables_md(slug: str, profile: str, root: Path | None = None) -> Path:
    """``results/<slug>/<profile>/TABLES.md``: every table and metric (mean ± std, paper, delta)."""
    folder = (root or R.results_root()) / slug / profile
    lines = [f"# {slug} — `{profile}` profile: every table and metric", "",
             f"_Generated from the CSVs in this folder by `make results`; do not edit by hand._ Runs: "
             f"{provenance_line(folder)}.", ""]
    for table, df in _read_cells(folder).items():
        title = ""
        ypath = papers_dir() / slug / "tables" / f"{table}.yaml"
        if ypath.is_file():
            title = (yaml.safe_load(ypath.read_text(encoding="utf-8")) or {}).get("title", "")
        lines += [f"## `{table}`" + (f": {title}" if title else ""), "", f"[`{table}.csv`]({table}.csv), "
                  f"per run: [`{table}_runs.csv`]({table}_runs.csv)", "", cells_markdown(df), ""]
    out = folder / "TABLES.md"
    R.write_text_atomic(out, "\n".join(lines).rstrip() + "\n")
    return out


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
    return md_table(["paper", "title", "venue", "status", "claims (held / not held / inconclusive / not measured)"],
                    rows)


def write_summary(root: Path | None = None, out: Path | None = None) -> Path:
    """``results/SUMMARY.md``: per paper, claims verdicts and paper-vs-ours tables."""
    root = root or R.results_root()
    lines = ["# Results summary", "",
             "Generated by `make results` from the committed `results/<paper>/<profile>/*.csv` and each "
             "paper's `claims.py`. Profiles: `quick` = CPU stand-in setting (see each paper README), "
             "`full` = the paper's setting.", "", index_markdown(root), ""]
    for p in paper_index():
        slug = p["slug"]
        profiles = [x for x in profiles_with_results(slug, root) if x in COMMITTED_PROFILES]
        if not profiles:
            continue
        lines += [f"## {slug}: {p['title']} ({p['venue']})", ""]
        for profile in profiles:
            verdicts = evaluate_paper(slug, profile, root)
            write_tables_md(slug, profile, root)
            lines += [f"### `{profile}`: {counts_text(verdicts)}", ""]
            if any(v["kind"] == "claim" for v in verdicts):
                lines += [claims_markdown(verdicts, "claim"), ""]
            if any(v["kind"] == "sanity" for v in verdicts):
                lines += ["Sanity checks:", "", claims_markdown(verdicts, "sanity"), ""]
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
