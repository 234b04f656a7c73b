"""This paper's data: few-shot image sets (Omniglot, CIFAR-FS, miniImageNet) and sinusoid tasks.

* Omniglot (official code: torchmeta ``Omniglot``, Resize(28), ToTensor, class augmentation by
  rotations of 90/180/270 degrees -- each rotated character is a new class, in every split).
  Pixels follow torchvision's ``ToTensor`` of the original PNG: background 1, ink 0.
  - quick (``omniglot_small``): the two "minimal" background splits that are on this machine;
    meta-train = ``background_small1`` (5 alphabets, 136 characters), meta-test =
    ``background_small2`` minus the two alphabets it shares with small1 (Greek and Latin are in both
    zips, byte-identical), i.e. Japanese (katakana), Sanskrit, Tagalog: 106 characters. Disjoint alphabets.
  - full (``omniglot``): meta-train = ``images_background`` (30 alphabets, 964 characters),
    meta-test = ``images_evaluation`` (20 alphabets, 659 characters).
* CIFAR-FS (Bertinetto et al. 2019) in its standard layout ``CIFAR-FS/cifar100/data/<class>/*.png``
  with ``CIFAR-FS/cifar100/splits/bertinetto/{train,val,test}.txt`` (class names), 32x32 RGB.
* miniImageNet (Ravi & Larochelle split) in its standard layout ``mini-imagenet/images/*.jpg`` with
  ``mini-imagenet/{train,val,test}.csv`` (``filename,label``), resized to 84x84 RGB.
* Sinusoid regression (Finn et al. 2017; official ``utils/sinusoid.py``): amplitude U[0.1, 5],
  phase U[0, pi], inputs U[-5, 5]; ``2 x shots`` points per task, even points support, odd query.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.data import DataFormatError, DataMissingError, load_omniglot
from common.data.core import search_roots
from common.fewshot import EpisodeSampler


@dataclass
class ImageSplit:
    """Flattened images of one meta-split and their (globally unique) class labels."""

    x: torch.Tensor          # (N, D) float32
    y: np.ndarray            # (N,) int64, class ids unique across splits
    groups: list[str]        # per class id present: group name (alphabet), aligned with np.unique(y)
    name: str
    image_shape: tuple[int, ...]

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.y)


def rotation_augment(images: np.ndarray, labels: np.ndarray, angles=(0, 90, 180, 270)) -> tuple[np.ndarray, np.ndarray]:
    """Rotations as new classes: class c at angle index r gets label c * len(angles) + r."""
    xs, ys = [], []
    for r, angle in enumerate(angles):
        if angle % 90:
            raise ValueError(f"only multiples of 90 degrees are supported, got {angle}")
        xs.append(np.rot90(images, k=angle // 90, axes=(1, 2)))
        ys.append(labels * len(angles) + r)
    return np.concatenate(xs), np.concatenate(ys)


def _omniglot_split(subset: str, size: int, rotations: bool, offset: int) -> ImageSplit:
    ds = load_omniglot(subset, size)
    images = 1.0 - ds.x                      # ToTensor of the PNG: background 1, ink 0 (official)
    labels = ds.y.astype(np.int64)
    alphabets = [c.split("/")[0] for c in ds.classes]
    n_rot = 4 if rotations else 1
    if rotations:
        images, labels = rotation_augment(images, labels)
    groups = [alphabets[c // n_rot] for c in range(len(ds.classes) * n_rot)]
    return ImageSplit(torch.from_numpy(np.ascontiguousarray(images.reshape(len(images), -1))).float(),
                      labels + offset, groups, ds.name, (1, size, size))


def load_omniglot_meta(full: bool, size: int = 28, rotations: bool = True) -> tuple[ImageSplit, ImageSplit]:
    """(meta-train, meta-test) Omniglot splits with disjoint alphabets and class ids."""
    train_subset, test_subset = ("background", "evaluation") if full else ("background_small1", "background_small2")
    train = _omniglot_split(train_subset, size, rotations, 0)
    test = _omniglot_split(test_subset, size, rotations, int(train.y.max()) + 1)
    shared = set(train.groups) & set(test.groups)
    if shared:
        # The minimal splits overlap: Greek and Latin are in both small1 and small2 (identical files).
        # Keep them in meta-train only, so meta-test alphabets (and characters) are unseen.
        test = _drop_groups(test, shared, int(train.y.max()) + 1)
    return train, test


def _drop_groups(split: ImageSplit, groups: set[str], offset: int) -> ImageSplit:
    classes = split.classes
    keep_classes = [c for i, c in enumerate(classes) if split.groups[i] not in groups]
    remap = {int(c): offset + j for j, c in enumerate(keep_classes)}
    keep = np.isin(split.y, keep_classes)
    y = np.asarray([remap[int(c)] for c in split.y[keep]], dtype=np.int64)
    new_groups = [split.groups[i] for i, c in enumerate(classes) if split.groups[i] not in groups]
    return ImageSplit(split.x[torch.from_numpy(keep)], y, new_groups, split.name + "_minus_" + "_".join(sorted(groups)),
                      split.image_shape)


def _find_root(folder_names: list[str], marker: str, how: str, dataset: str) -> Path:
    tried = []
    for base in search_roots():
        for name in folder_names:
            root = base / name
            tried.append(str(root))
            if (root / marker).exists():
                return root
    raise DataMissingError(f"{dataset}: not found (looked for {marker} under {', '.join(tried)}); {how}")


def _read_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        img = Image.open(path).convert("RGB")
    except OSError as exc:
        raise DataFormatError(f"cannot read image {path} ({exc})") from None
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


CIFARFS_HOW = ("download CIFAR-FS (Bertinetto et al. 2019; e.g. the official scripts of "
               "github.com/bertinetto/r2d2 or the meta-ticket repo's scripts/download_cifarfs.sh) and place it as "
               "$REPRO_DATA/CIFAR-FS/cifar100/{data/<class>/*.png, splits/bertinetto/{train,val,test}.txt}")


def load_cifarfs(split: str, size: int = 32, offset: int = 0, root: Path | None = None) -> ImageSplit:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train/val/test, got {split!r}")
    root = root or _find_root(["CIFAR-FS/cifar100", "cifar100", "cifar-fs/cifar100"],
                              "splits/bertinetto/train.txt", CIFARFS_HOW, "CIFAR-FS")
    names = [s.strip() for s in (root / "splits" / "bertinetto" / f"{split}.txt").read_text().splitlines() if s.strip()]
    xs, ys = [], []
    for c, name in enumerate(names):
        files = sorted((root / "data" / name).glob("*.png"))
        if not files:
            raise DataFormatError(f"CIFAR-FS: class folder {root / 'data' / name} has no PNG images")
        xs += [_read_image(f, size) for f in files]
        ys += [c + offset] * len(files)
    x = torch.from_numpy(np.stack(xs).reshape(len(xs), -1))
    return ImageSplit(x, np.asarray(ys, dtype=np.int64), names, f"cifarfs_{split}", (3, size, size))


MINI_HOW = ("place miniImageNet (Ravi & Larochelle split) as $REPRO_DATA/mini-imagenet/"
            "{images/*.jpg, train.csv, val.csv, test.csv} (csv columns filename,label)")


def load_miniimagenet(split: str, size: int = 84, offset: int = 0, root: Path | None = None) -> ImageSplit:
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be train/val/test, got {split!r}")
    root = root or _find_root(["mini-imagenet", "miniimagenet", "miniImageNet"], "train.csv", MINI_HOW, "miniImageNet")
    with open(root / f"{split}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"filename", "label"} <= set(rows[0]):
        raise DataFormatError(f"miniImageNet: {root / (split + '.csv')} needs columns filename,label")
    wnids = sorted({r["label"] for r in rows})
    index = {w: i + offset for i, w in enumerate(wnids)}
    x = torch.from_numpy(np.stack([_read_image(root / "images" / r["filename"], size) for r in rows]).reshape(len(rows), -1))
    return ImageSplit(x, np.asarray([index[r["label"]] for r in rows], dtype=np.int64), wnids,
                      f"miniimagenet_{split}", (3, size, size))


def load_image_meta(dataset: str, size: int | None = None, rotations: bool = True) -> tuple[ImageSplit, ImageSplit]:
    """(meta-train, meta-test) for a dataset name of the config."""
    if dataset == "omniglot_small":
        return load_omniglot_meta(False, size or 28, rotations)
    if dataset == "omniglot":
        return load_omniglot_meta(True, size or 28, rotations)
    if dataset == "cifarfs":
        tr = load_cifarfs("train", size or 32)
        return tr, load_cifarfs("test", size or 32, offset=int(tr.y.max()) + 1)
    if dataset == "miniimagenet":
        tr = load_miniimagenet("train", size or 84)
        return tr, load_miniimagenet("test", size or 84, offset=int(tr.y.max()) + 1)
    raise ValueError(f"unknown image dataset {dataset!r}")


def episode_tensors(split: ImageSplit, episode, device) -> tuple[torch.Tensor, ...]:
    dev = torch.device(device)
    return (split.x[episode.support_idx].to(dev), torch.from_numpy(episode.support_y).to(dev),
            split.x[episode.query_idx].to(dev), torch.from_numpy(episode.query_y).to(dev))


def make_sampler(split: ImageSplit, n_way: int, k_shot: int, q_query: int) -> EpisodeSampler:
    return EpisodeSampler(split.y, split.classes, n_way, k_shot, q_query)


def sinusoid_tasks(rng: np.random.Generator, n_tasks: int, shots: int, amp=(0.1, 5.0), phase=(0.0, np.pi),
                   x_range=(-5.0, 5.0), device="cpu") -> list[tuple[torch.Tensor, ...]]:
    """Sinusoid tasks as (x_support, y_support, x_query, y_query), each (shots, 1)."""
    tasks = []
    for _ in range(n_tasks):
        a, p = rng.uniform(*amp), rng.uniform(*phase)
        x = rng.uniform(*x_range, size=(2 * shots, 1))
        y = a * np.sin(x - p)
        t = [torch.tensor(v, dtype=torch.float32, device=device) for v in (x[::2], y[::2], x[1::2], y[1::2])]
        tasks.append(tuple(t))
    return tasks
