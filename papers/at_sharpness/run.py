"""One run = one model trained adversarially at one radius on one dataset, with its Hessian measured.

    python -m papers.at_sharpness.run --dataset pmlb_sonar --method adversarial --eps-frac 0.4
    make reproduce-at-sharpness [PROFILE=smoke|quick|full]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from common.runtime import paper_logger, setup
from papers.at_sharpness.baselines import METHODS
from papers.at_sharpness.config import Config

SLUG = "at_sharpness"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    cfg.validate()
    setup(cfg)
    metrics = METHODS[cfg.method](cfg)
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        raise FloatingPointError(f"non-finite metrics: {bad}")
    return [{"metric": k, "value": float(v)} for k, v in metrics.items()]


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
