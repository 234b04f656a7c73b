"""The claims of Ito, Yamada & Kumagai (ICLR 2025) as checks over our aggregated results.

Thresholds (stated in each claim's text) are ours: the paper states these findings
qualitatively, with bar plots / curves rather than thresholds.
"""

from common.claims import Claim, NotMeasured, compare, held, not_held

SET = "arch=mlp"  # the quick profile's setting; full-profile rows add width_mult


def _m(res, table, method, metric, **kw):
    return res.mean(table, method=method, metric=metric, **kw)


def _wm_distance_not_much_reduced(res):
    ratio = _m(res, "t1_distance", "wm", "dist_ratio")
    naive_b = _m(res, "x_barrier", "naive", "barrier_loss_test")
    wm_b = _m(res, "x_barrier", "wm", "barrier_loss_test")
    reduction = 1 - wm_b / naive_b if naive_b > 0 else float("nan")
    text = (f"WM distance ratio ||a-pi(b)||/||a-b|| = {ratio:.3f} (distance cut by {100 * (1 - ratio):.1f}%) "
            f"while the test loss barrier is cut by {100 * reduction:.1f}% ({naive_b:.3f} -> {wm_b:.3f})")
    return held(text) if ratio >= 0.8 and reduction >= 0.5 else not_held(text)


def _singular_values_invariant_vectors_change(res):
    change = max(_m(res, "t2_alignment", m, "sv_rel_change_max") for m in ("wm", "am", "ste"))
    moved = _m(res, "t2_alignment", "wm", "align_top") - _m(res, "t2_alignment", "naive", "align_top")
    text = (f"max relative change of any singular value under WM/AM/STE permutations = {change:.2e}; "
            f"top-rank singular-vector alignment naive -> WM changes by {moved:+.3f}")
    return held(text) if change < 1e-8 and abs(moved) > 0.05 else not_held(text)


def _wm_aligns_large_singular_values(res):
    top_gain = _m(res, "t2_alignment", "wm", "align_top") - _m(res, "t2_alignment", "naive", "align_top")
    bottom_gain = (_m(res, "t2_alignment", "wm", "align_bottom_half")
                   - _m(res, "t2_alignment", "naive", "align_bottom_half"))
    return compare(top_gain, ">", bottom_gain, "WM gain in alignment of the top-5% singular vectors",
                   "gain in the bottom half", margin=0.05)


def _wm_gives_lmc(res):
    return compare(_m(res, "x_barrier", "wm", "barrier_loss_test"), "<",
                   0.5 * _m(res, "x_barrier", "naive", "barrier_loss_test"),
                   "WM test loss barrier", "half the naive barrier")


def _am_same_principle(res):
    naive_top = _m(res, "t2_alignment", "naive", "align_top")
    am_top, am_bottom = _m(res, "t2_alignment", "am", "align_top"), _m(res, "t2_alignment", "am", "align_bottom_half")
    wm_top = _m(res, "t2_alignment", "wm", "align_top")
    am_b, naive_b = _m(res, "x_barrier", "am", "barrier_loss_test"), _m(res, "x_barrier", "naive", "barrier_loss_test")
    ok = am_top > naive_top + 0.05 and am_top > am_bottom + 0.05 and am_b < 0.5 * naive_b
    text = (f"align_top naive {naive_top:.3f} / AM {am_top:.3f} / WM {wm_top:.3f}; AM bottom-half {am_bottom:.3f}; "
            f"loss barrier AM {am_b:.3f} vs naive {naive_b:.3f}")
    return held(text) if ok else not_held(text)


def _ste_does_not_align(res):
    return compare(_m(res, "t2_alignment", "ste", "align_top"), "<", _m(res, "t2_alignment", "wm", "align_top"),
                   "STE top-5% singular-vector alignment", "WM", margin=0.05)


def _wm_beats_ste_for_three(res):
    parts, wins = [], []
    for n in (3, 4):
        try:
            wm = res.mean("t3_merge", method="wm", metric="merged_acc_pct_test", setting=f"{SET};n_merge={n}")
            ste = res.mean("t3_merge", method="ste", metric="merged_acc_pct_test", setting=f"{SET};n_merge={n}")
        except NotMeasured:
            continue
        parts.append(f"n={n}: WM {wm:.2f}% vs STE {ste:.2f}%")
        wins.append(wm > ste)
    if not wins:
        raise NotMeasured("no merge results for n >= 3")
    text = "merged test accuracy, " + "; ".join(parts)
    return held(text) if all(wins) else not_held(text)


CLAIMS = [
    Claim("C1", "WM permutations do not reduce the L2 distance between the models much (ratio >= 0.8), yet the "
          "loss barrier falls by >= 50%: LMC is not merely due to distance reduction", "Abstract; Sec. 3, Fig. 2",
          _wm_distance_not_much_reduced),
    Claim("C2", "Permutations change the directions of the singular vectors but not the singular values "
          "(relative change < 1e-8; top-rank alignment moves by > 0.05)", "Abstract; Sec. 4",
          _singular_values_invariant_vectors_change),
    Claim("C3", "WM primarily aligns the singular vectors with large singular values (gain in top-5% alignment "
          "exceeds the gain in the bottom half by > 0.05)", "Abstract; Sec. 4", _wm_aligns_large_singular_values),
    Claim("C4", "The permutations found by WM satisfy LMC (test loss barrier below half the naive barrier)",
          "Abstract; Sec. 3-4", _wm_gives_lmc),
    Claim("C5", "AM follows the same principle as WM: it aligns large-singular-value directions (top-5% "
          "alignment > naive + 0.05 and > its own bottom half + 0.05) and reduces the barrier by >= 50%",
          "Abstract; Sec. 5", _am_same_principle),
    Claim("C6", "STE permutations do not align the singular vectors as WM does (STE top-5% alignment below "
          "WM's by > 0.05)", "Sec. 6", _ste_does_not_align),
    Claim("C7", "WM is more advantageous than STE for LMC among three or more models (merged test accuracy "
          "of 3 and of 4 models, WM > STE)", "Abstract; Sec. 6", _wm_beats_ste_for_three),
]
