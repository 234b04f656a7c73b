"""pp_pssl: one cell = one method trained on one labelled target set (``n_per_class`` per class,
drawn per seed) with the source models of that seed, scored on the target test set.

    python -m papers.pp_pssl.run --profile smoke --method pp_pssl
    make reproduce-pp-pssl [PROFILE=smoke]
"""

from __future__ import annotations

import sys
from pathlib import Path

from common.runtime import derive_seed, paper_logger, setup
from papers.pp_pssl.baselines import METHODS
from papers.pp_pssl.config import Config
from papers.pp_pssl.data import load_target
from papers.pp_pssl.train import accuracy_pct, get_source

SLUG = "pp_pssl"
log = paper_logger(SLUG)


def run(cfg: Config, workdir: Path | None = None) -> list[dict]:
    device = setup(cfg)
    source = get_source(cfg, device)
    split = load_target(cfg.target, cfg.n_per_class, derive_seed(cfg.seed, "labelled_set"), cfg.target_root,
                        cfg.image_size)
    split = type(split)(split.x_l.to(device), split.y_l.to(device), split.x_test, split.y_test, split.n_classes,
                        split.name)
    model, extra = METHODS[cfg.method](cfg, split, source, device)
    acc = accuracy_pct(model, split.x_test, split.y_test)
    log.info("%s on %s, %d labelled: test accuracy %.2f%%", cfg.method, split.name, len(split.y_l), acc)
    rows = [{"metric": "test_acc_pct", "value": acc, "n": len(split.y_test)},
            {"metric": "n_labelled", "value": len(split.y_l)},
            {"metric": "source_val_acc_pct", "value": source.accuracy_pct}]
    rows += [{"metric": k, "value": v} for k, v in extra.items()]
    return rows


if __name__ == "__main__":
    from common.cli import paper_main

    sys.exit(paper_main(SLUG))
