"""The Omniglot domain pair: every (alphabet, character) once, drawers 1-10 -> 11-20."""

import numpy as np
import pytest

from common.data import DataMissingError, load_omniglot
from papers.fast_gsot import data as D


@pytest.mark.data
def test_omniglot_drawer_pair_has_242_distinct_characters():
    try:
        load_omniglot("background_small", 28)
    except DataMissingError:
        pytest.skip("Omniglot small zips not found (set REPRO_DATA)")
    pair = D.omniglot_drawer_pair()
    assert len(np.unique(pair.ys)) == len(np.unique(pair.yt)) == D.OMNIGLOT_CLASSES == 242
    assert pair.xs.shape == (2420, 196) and pair.xt.shape == (2420, 196)
    assert np.bincount(pair.ys).tolist() == [10] * 242 and np.bincount(pair.yt).tolist() == [10] * 242
    # no character appears twice: no two classes share their first source image
    firsts = {pair.xs[np.flatnonzero(pair.ys == c)[0]].tobytes() for c in range(242)}
    assert len(firsts) == 242
