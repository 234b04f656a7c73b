"""Omniglot quick splits: every (alphabet, character) once across meta-train and meta-test."""

import numpy as np
import pytest

from common.data import DataMissingError, load_omniglot
from papers.meta_ticket import data as D


@pytest.mark.data
def test_omniglot_small_splits_hold_the_242_distinct_characters_once():
    try:
        union = load_omniglot("background_small", 28)
    except DataMissingError:
        pytest.skip("Omniglot small zips not found (set REPRO_DATA)")
    train, test = D.load_omniglot_meta(False, 28, rotations=False)
    assert len(train.classes) == 136 and len(test.classes) == 106
    assert len(train.classes) + len(test.classes) == len(union.classes) == 242
    assert not set(train.groups) & set(test.groups)                  # disjoint alphabets
    assert sorted(set(train.groups) | set(test.groups)) == sorted({c.split("/")[0] for c in union.classes})
    assert not np.intersect1d(train.classes, test.classes).size
    assert len(train.y) + len(test.y) == len(union.y) == 4840
