"""common.meta.episodes: task (episode) sampler, class-disjoint splits, label remapping, determinism, impossible settings."""

import numpy as np
import pytest

from common.meta.episodes import EpisodeSampler, TaskError, mean_ci95, split_classes

LABELS = np.repeat(np.arange(30), 20)


def test_splits_are_disjoint_and_cover():
    s = split_classes(LABELS, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)
    sets = [set(v.tolist()) for v in s.values()]
    assert sum(len(x) for x in sets) == 30 and set().union(*sets) == set(range(30))
    assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1:])
    assert [len(s[k]) for k in ("train", "val", "test")] == [18, 6, 6]
    assert split_classes(LABELS, seed=1)["test"].tolist() == s["test"].tolist()
    assert split_classes(LABELS, seed=2)["test"].tolist() != s["test"].tolist()


def test_group_splits_keep_groups_whole():
    groups = {c: f"alpha{c // 5}" for c in range(30)}
    s = split_classes(LABELS, {"train": 0.5, "test": 0.5}, seed=0, groups=groups)
    g_train = {groups[c] for c in s["train"]}
    g_test = {groups[c] for c in s["test"]}
    assert not (g_train & g_test) and len(g_train) == 3


def test_explicit_overlap_rejected():
    with pytest.raises(TaskError, match="shares classes"):
        split_classes(LABELS, explicit={"train": [1, 2], "test": [2, 3]})


def test_episode_structure_and_remap():
    s = split_classes(LABELS, seed=0)
    sampler = EpisodeSampler(LABELS, s["train"], n_way=5, k_shot=2, q_query=3)
    ep = sampler.sample(np.random.default_rng(0))
    assert ep.support_idx.shape == (10,) and ep.query_idx.shape == (15,)
    assert sorted(set(ep.support_y.tolist())) == list(range(5))
    for lab, cls in enumerate(ep.classes):
        assert set(LABELS[ep.support_idx[ep.support_y == lab]]) == {cls}
        assert set(LABELS[ep.query_idx[ep.query_y == lab]]) == {cls}
    assert not set(ep.support_idx) & set(ep.query_idx)
    assert set(ep.classes.tolist()) <= set(s["train"].tolist())


def test_fixed_episodes_deterministic_per_seed():
    sampler = EpisodeSampler(LABELS, range(10), 5, 1, 5)
    a, b = sampler.fixed_episodes(4, seed=3), sampler.fixed_episodes(4, seed=3)
    c = sampler.fixed_episodes(4, seed=4)
    assert all(np.array_equal(x.query_idx, y.query_idx) for x, y in zip(a, b))
    assert any(not np.array_equal(x.query_idx, y.query_idx) for x, y in zip(a, c))


def test_impossible_settings():
    with pytest.raises(TaskError, match="has 20 examples but 15-shot 10-query"):
        EpisodeSampler(LABELS, range(10), 5, 15, 10)
    with pytest.raises(TaskError, match="need 5 classes"):
        EpisodeSampler(LABELS, range(3), 5, 1, 1)


def test_mean_ci95():
    m, h = mean_ci95([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5 and abs(h - 1.96 * np.std([1, 2, 3, 4], ddof=1) / 2) < 1e-12


def test_task_error_is_bad_input_and_needs_no_torch():
    """An impossible task stops a sweep with its message (bad input); naming it does not load torch."""
    import subprocess
    import sys

    from common import sweep

    assert TaskError in sweep.BAD_INPUT
    code = "import sys; from common.meta import TaskError; import common.meta.episodes; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    from common.meta import MixturePairTaskSource, tasks

    assert tasks.TaskError is TaskError and MixturePairTaskSource is tasks.MixturePairTaskSource
