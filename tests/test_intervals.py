"""Item 10 of the robustness issue: Wilson intervals for proportions, the Holm-tie note, ls arms."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.common.stats import summarize, wilson_interval
from harness.reports.compare import Comparison, PairedTest, RunComparison, comparison_markdown


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 10), (10, 10), (3, 10), (1, 177), (176, 177)])
def test_wilson_matches_scipy_and_keeps_a_width_at_the_edges(k, n):
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)
    assert hi - lo > 0 and lo <= k / n <= hi


def test_summarize_uses_wilson_for_proportions_and_the_bootstrap_otherwise():
    none_right = summarize([0.0] * 20)
    assert none_right["ci_method"] == "wilson" and none_right["ci_low"] == 0.0
    assert none_right["ci_high"] == pytest.approx(0.1611, abs=1e-4)  # not a zero-width [0, 0]
    all_right = summarize([1.0] * 20)
    assert all_right["ci_high"] == 1.0 and all_right["ci_low"] == pytest.approx(0.8389, abs=1e-4)
    f1 = summarize([0.5, 1.0, 0.0, 0.25], seed=1)
    assert f1["ci_method"] == "bootstrap" and f1["ci_low"] < f1["value"] < f1["ci_high"]
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def _comparison(ci_low: float, ci_high: float, p_adjusted: float) -> Comparison:
    result = PairedTest(
        "paired_bootstrap",
        n=50,
        delta=(ci_low + ci_high) / 2,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=0.03,
    )
    return Comparison("t", "token_f1", "A:x", "B:x", True, result, p_adjusted=p_adjusted)


def test_a_holm_tie_whose_unadjusted_ci_excludes_zero_is_noted():
    noted = _comparison(0.01, 0.2, p_adjusted=0.09)  # CI above 0, Holm says tie
    plain_tie = _comparison(-0.05, 0.2, p_adjusted=0.5)
    significant = _comparison(0.05, 0.2, p_adjusted=0.01)
    assert noted.tie_despite_ci and not plain_tie.tie_despite_ci
    assert significant.verdict == "better" and not significant.tie_despite_ci
    text = comparison_markdown(RunComparison("a", "b", [], [noted, plain_tie], [], []))
    assert text.count("not shown different (†)") == 1 and "not after the Holm adjustment" in text


def test_ls_arms_shows_real_defaults():
    out = CliRunner().invoke(main, ["ls", "arms"]).output
    assert "PydanticUndefined" not in out
    assert "target_modules=['q_proj'" in out
