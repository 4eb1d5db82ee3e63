"""The scaling fit Q(K) = Q_inf - A * K^-gamma recovers known curves, and its knee and intervals."""

import numpy as np
import pytest

from worldsim.search.scaling import fit_power_law, knee, scaling_fit

KS = np.array([1, 2, 4, 8, 16, 32])


def curve(ks, q_inf=0.9, a=0.4, gamma=0.7):
    return q_inf - a * ks.astype(float) ** -gamma


def test_the_fit_recovers_a_known_curve():
    fit = fit_power_law(KS, curve(KS))
    assert fit["q_inf"] == pytest.approx(0.9, abs=1e-3) and fit["a"] == pytest.approx(0.4, abs=1e-3)
    assert fit["gamma"] == pytest.approx(0.7, abs=0.01) and fit["rss"] < 1e-6 and not fit["gamma_at_bound"]
    # still accelerating over these K (convex in log K): no diminishing-returns curve fits, and it says so
    assert fit_power_law(KS, 0.5 + 0.01 * KS)["gamma_at_bound"]


def test_the_knee_is_where_one_more_sample_adds_less_than_the_margin():
    fit = {"q_inf": 0.9, "a": 0.4, "gamma": 0.7}
    k_star = knee(fit, 0.005)
    slope = lambda k: 0.4 * 0.7 * k**-1.7  # noqa: E731
    assert slope(k_star) == pytest.approx(0.005) and slope(k_star * 1.1) < 0.005 < slope(k_star * 0.9)
    assert knee({"q_inf": 0.5, "a": 0.0, "gamma": 1.0}, 0.005) == 1.0  # a flat curve: no sample pays


def test_intervals_from_resampled_prompts_hold_the_truth_of_noisy_prompts():
    rng = np.random.default_rng(0)
    per_prompt = np.clip(curve(KS)[None] + rng.normal(0, 0.05, (40, len(KS))), 0, 1)
    report = scaling_fit(KS.tolist(), per_prompt, draws=200)
    lo, hi = report["interval_90"]["q_inf"]
    assert lo <= 0.9 <= hi and hi - lo < 0.1
    assert report["interval_90"]["gamma"][0] <= 0.7 <= report["interval_90"]["gamma"][1]
    assert report["k_star"] == pytest.approx(knee(report, 0.005))


def test_too_few_points_are_refused():
    with pytest.raises(ValueError, match="three distinct K"):
        fit_power_law(np.array([1, 2]), np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match=r"\(prompts, 3\)"):
        scaling_fit([1, 2, 4], np.zeros((5, 4)))
