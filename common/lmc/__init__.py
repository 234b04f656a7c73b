"""The linear-mode-connectivity family: permutation symmetry of networks, permutation searches,
interpolation paths and barriers, shared by lmc_wm and lmc_width. Never a paper's
contribution: a paper's own analyses stay in its folder.

Vocabulary: two independently trained models ``theta_a``, ``theta_b`` (parameter dicts as in
``state_dict``); a *permutation* ``pi`` (``{perm name: index tensor}``) of the hidden units of
``theta_b``, which leaves its function unchanged; the linear path ``(1 - lam) theta_a + lam
pi(theta_b)`` and its loss / accuracy *barrier*.

- :mod:`common.lmc.permutation`: :class:`PermutationSpec` (which axis of which parameter each
  permutation acts on), the specs of the MLP / VGG / ResNet-20 of :mod:`common.lmc.models`,
  applying, inverting, drawing and checking permutations.
- :mod:`common.lmc.models`: the MLP, VGG-11/16 and ResNet-20 (LayerNorm) of Ainsworth et al.
  (ICLR 2023), each with ``activation_sites()`` and ``permutation_spec()``; ``build_model``.
- :mod:`common.lmc.batchnorm`: BatchNorm versions of those CNNs, permutation specs over their
  running statistics, and the BN reset of merged models (REPAIR's fix for BN networks).
- :mod:`common.lmc.matching`: weight matching (coordinate descent over exact linear assignments)
  and activation matching.
- :mod:`common.lmc.interpolation`: the linear path, evaluation of a parameter dict, the barrier,
  L2 distances, uniform averaging of aligned models.

Tests: ``tests/test_common_lmc.py``.
"""
