"""The binomial alert test: hand values, bursts, noise, rising edge."""

import math

import pytest
from scipy import stats

from tfllm.monitoring.alerts import AlertConfig
from tfllm.monitoring.alerts import BaselineAlerter
from tfllm.monitoring.alerts import binomial_p_value
from tfllm.monitoring.alerts import simulate_false_alarms


def test_p_value_equals_the_binomial_tail_by_hand():
    # P(X >= 3), X ~ Binomial(5, 0.2) = sum_{k=3..5} C(5,k) .2^k .8^(5-k)
    hand = sum(math.comb(5, k) * 0.2 ** k * 0.8 ** (5 - k)
               for k in range(3, 6))
    assert hand == pytest.approx(0.05792)
    assert binomial_p_value(3, 5, 0.2) == pytest.approx(hand, rel=1e-12)
    assert binomial_p_value(3, 5, 0.2) == pytest.approx(
        stats.binom.sf(2, 5, 0.2))


def _alerter(**kwargs):
    config = dict(baseline_windows=10, min_baseline_windows=5, min_count=10,
                  alpha=0.01, expected_tests=100)
    config.update(kwargs)
    return BaselineAlerter(AlertConfig(**config))


def test_burst_fires_once_and_baseline_is_the_smoothed_pool():
    alerter = _alerter()
    for _ in range(5):
        assert not alerter.test("t", 2, 20)["alert"]  # 10% negative
    result = alerter.test("t", 12, 20)
    # Baseline (10 + 1) / (100 + 2); threshold 0.01 / 100.
    assert result["baseline_share"] == pytest.approx(11 / 102)
    assert result["p_value"] == pytest.approx(
        stats.binom.sf(11, 20, 11 / 102))
    assert result["p_value"] < 1e-4 and result["alert"]
    share = 11 / 102
    assert result["statistic"] == pytest.approx(
        (12 - 20 * share) / math.sqrt(20 * share * (1 - share)))
    # Still significant: no second alert; the burst stays out of the
    # baseline.
    second = alerter.test("t", 13, 20)
    assert second["significant"] and not second["alert"]
    assert second["baseline_share"] == pytest.approx(11 / 102)
    assert not alerter.test("t", 2, 20)["significant"]
    # One quiet window does not clear the alarm (clear_after 2) ...
    held = alerter.test("t", 12, 20)
    assert held["significant"] and not held["alert"]
    alerter.test("t", 2, 20)
    alerter.test("t", 2, 20)
    assert alerter.test("t", 12, 20)["alert"]  # ... two do


def test_small_windows_and_short_history_are_not_tested():
    alerter = _alerter()
    for _ in range(4):
        alerter.test("t", 1, 20)
    early = alerter.test("t", 20, 20)  # 4 windows of history < 5
    assert not early["tested"] and early["baseline_share"] is None
    small = alerter.test("t", 9, 9)  # 9 texts < min_count 10
    assert small["baseline_share"] is not None and not small["tested"]


def test_clear_after_one_alerts_on_every_rising_edge():
    alerter = _alerter(clear_after=1)
    for _ in range(5):
        alerter.test("t", 2, 20)
    flags = [alerter.test("t", k, 20)["alert"] for k in (12, 2, 12, 12)]
    assert flags == [True, False, True, False]


def test_lasting_shift_becomes_the_baseline():
    alerter = _alerter(adapt_after=2)
    for _ in range(5):
        alerter.test("t", 1, 20)
    flags = [alerter.test("t", 12, 20) for _ in range(12)]
    assert [f["alert"] for f in flags].count(True) == 1
    assert not flags[-1]["significant"]  # the new level is the baseline


def test_topics_have_their_own_baselines_and_state_round_trips():
    alerter = _alerter()
    for _ in range(5):
        alerter.test("calm", 2, 20)
        alerter.test("gloomy", 10, 20)
    assert not alerter.test("gloomy", 12, 20)["significant"]
    copy = _alerter()
    copy.set_state(alerter.get_state())
    assert copy.test("calm", 12, 20) == alerter.test("calm", 12, 20)


def test_no_alert_on_noise_by_simulation():
    config = AlertConfig()  # defaults: per-test level 5e-4
    assert config.threshold == pytest.approx(5e-4)
    result = simulate_false_alarms(config, 0.13, 15, 20000, seed=1)
    assert result["tested"] > 15000
    # Bonferroni bound under H0: 20000 tests x 5e-4 = 10 expected at most
    # (fewer: the binomial is discrete).
    assert result["alerts"] <= 10
