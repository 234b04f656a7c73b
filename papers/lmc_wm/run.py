"""lmc_wm: one cell = one analysis (``analyses.ANALYSES``) of one pair (or group) of independently
trained models, aligned by one permutation search (``baselines.METHODS``).

Models and permutations come from the cached pool (``pool.ModelPool``), so the four tables share
them::

    python -m papers.lmc_wm.run --profile smoke --analysis singular --method am
    make reproduce-lmc-wm [PROFILE=smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

from common.runtime import setup
from papers.lmc_wm.analyses import ANALYSES
from papers.lmc_wm.config import Config
from papers.lmc_wm.pool import ModelPool

SLUG = "lmc_wm"


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    return ANALYSES[cfg.analysis](cfg, ModelPool(cfg, device))


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
