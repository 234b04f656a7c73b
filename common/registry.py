"""The paper registry: which papers exist and how their config and ``run`` are loaded.

A paper is a folder ``papers/<slug>/`` with ``config.py`` (a frozen dataclass ``Config``) and
``run.py`` (``run(cfg, workdir=None) -> rows``). ``REPRO_PAPERS_DIR`` / ``REPRO_PAPERS_PACKAGE``
point the registry at another package (the tests use ``tests/fixture_papers``).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from common import results as R


class SweepError(ValueError):
    """A table file, paper name or sweep option that cannot be used."""


def papers_dir() -> Path:
    """Folder of paper packages (``REPRO_PAPERS_DIR`` lets tests point at a fixture package)."""
    return Path(os.environ.get("REPRO_PAPERS_DIR") or R.REPO_ROOT / "papers")


def papers_package() -> str:
    return os.environ.get("REPRO_PAPERS_PACKAGE") or "papers"


def available_papers() -> list[str]:
    """Slugs of paper folders that have a run.py (``_template`` and other ``_`` folders excluded)."""
    root = papers_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "run.py").is_file() and not p.name.startswith("_"))


def normalise_slug(name: str) -> str:
    """Accept 'graph-ssad' or 'graph_ssad'; raise with the list of papers when unknown.

    Hidden folders such as ``_template`` are not listed but run by name ('template' or '_template')."""
    slug = name.strip().replace("-", "_")
    papers = available_papers()
    if slug in papers:
        return slug
    hidden = "_" + slug.lstrip("_")
    if slug and (papers_dir() / hidden / "run.py").is_file():
        return hidden
    listing = ", ".join(p.replace("_", "-") for p in papers) or "(none yet)"
    raise SweepError(f"unknown paper {name!r}; available: {listing}")


@dataclass
class Paper:
    slug: str
    config_module: Any
    config_cls: type
    run_fn: Callable[..., Any]
    run_module: Any

    @property
    def tables_dir(self) -> Path:
        return papers_dir() / self.slug / "tables"

    def tables(self) -> list[str]:
        return sorted(p.stem for p in self.tables_dir.glob("*.yaml"))


def load_paper(slug: str) -> Paper:
    cfg_mod = importlib.import_module(f"{papers_package()}.{slug}.config")
    run_mod = importlib.import_module(f"{papers_package()}.{slug}.run")
    config_cls = getattr(cfg_mod, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(config_cls):
        raise SweepError(f"papers/{slug}/config.py must define a dataclass named Config")
    if not config_cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise SweepError(f"papers/{slug}/config.py: Config must be a frozen dataclass")
    run_fn = getattr(run_mod, "run", None)
    if not callable(run_fn):
        raise SweepError(f"papers/{slug}/run.py must define run(cfg, workdir=None) -> rows")
    return Paper(slug, cfg_mod, config_cls, run_fn, run_mod)
