"""Alerts: a window's negative share against its rolling baseline.

The test (per topic, per closed window): with `k` negative texts out of
`n` in the window and a baseline share `p0`, the one-sided exact binomial
test of H0 "the window's texts are negative with probability p0" against
"more often" gives `p = P(X >= k)`, `X ~ Binomial(n, p0)`
(`scipy.stats.binomtest(k, n, p0, alternative="greater")`). The window is
*significant* when `n >= min_count` and `p < alpha / expected_tests`: a
Bonferroni correction, so that over the `expected_tests` (windows x
topics) a user plans to monitor, the chance of any false alarm is at most
`alpha` when H0 holds with the true `p0` (less, since the binomial is
discrete). `p0` is estimated from the topic's previous `baseline_windows`
windows (the current one excluded) with add-one smoothing,
`(negatives + 1) / (texts + 2)`, so a baseline with no negatives does not
make every negative text significant; the estimate's own error makes the
real false-alarm rate differ from the nominal one, which
`simulate_false_alarms` measures: with the defaults (level 5e-4), 0.16 to
0.23 false alarms per 1,000 windows at negative shares 0.10-0.20 and 15-20
texts per window (100,000 simulated windows each), under the nominal 0.5.

Alerting is on the rising edge with a hold: a topic alerts when a window
is significant and the topic is not already in alarm; the alarm clears
after `clear_after` non-significant windows in a row, so a burst over
several windows (with a weaker window inside it) raises one alert.
Significant windows are kept out of the baseline (a burst does not raise
the bar for its own later windows); after
`adapt_after` significant windows in a row, they are admitted, so a
lasting shift becomes the new baseline instead of an alarm forever.

References: Bonferroni correction (Dunn 1961); the exact binomial test
(Clopper and Pearson 1934; scipy's `binomtest`).
"""

import collections
import dataclasses
import math

import numpy as np
from scipy import stats


@dataclasses.dataclass
class AlertConfig:
    """Settings of the alert test.

    Attributes:
        baseline_windows: int. Previous windows pooled into the baseline.
        min_baseline_windows: int. No test before a topic has this many.
        min_count: int. No test on a window with fewer texts.
        alpha: float. Family-wise false-alarm probability over
            `expected_tests` tests (default: at most 0.5 expected false
            alarms per 1,000 window x topic tests under H0; per-test level
            5e-4).
        expected_tests: int. Windows x topics expected to be tested.
        adapt_after: int. Significant windows in a row admitted to the
            baseline after this many.
        clear_after: int >= 1. Non-significant windows in a row that end an
            alarm (1: alert on every rising edge).
    """

    baseline_windows: int = 48
    min_baseline_windows: int = 12
    min_count: int = 10
    alpha: float = 0.5
    expected_tests: int = 1000
    adapt_after: int = 6
    clear_after: int = 2

    @property
    def threshold(self):
        """The per-test significance level, `alpha / expected_tests`."""
        return self.alpha / self.expected_tests


def binomial_p_value(negatives, total, baseline_share):
    """One-sided exact binomial p-value `P(X >= negatives)`.

    Args:
        negatives: int. Negative texts in the window, `0 <= k <= total`.
        total: int >= 1. Texts in the window.
        baseline_share: float in (0, 1). The null negative probability.

    Returns:
        float in [0, 1].
    """
    return float(stats.binomtest(int(negatives), int(total), baseline_share,
                                 alternative="greater").pvalue)


class BaselineAlerter:
    """Per-topic rolling baseline and rising-edge alerts.

    Args:
        config: `AlertConfig`.
    """

    def __init__(self, config):
        self.config = config
        self.history = {}  # topic -> deque of [negatives, total]
        self.run = {}  # topic -> significant windows in a row
        self.quiet = {}  # topic -> non-significant windows since the alarm

    def _history(self, topic):
        return self.history.setdefault(topic, collections.deque(
            maxlen=self.config.baseline_windows))

    def test(self, topic, negatives, total):
        """Tests one closed window and updates the topic's baseline.

        Args:
            topic: str.
            negatives: int. Negative texts in the window.
            total: int. All texts in the window.

        Returns:
            dict: `tested` (bool), `baseline_share` (float or None),
            `baseline_windows` (int), `statistic` (z-score, informative),
            `p_value` (float or None), `significant` (bool), `alert`
            (bool: significant while not in alarm).
        """
        config = self.config
        history = self._history(topic)
        result = {"tested": False, "baseline_share": None,
                  "baseline_windows": len(history), "statistic": None,
                  "p_value": None, "significant": False, "alert": False}
        if len(history) >= config.min_baseline_windows:
            base_negatives = sum(h[0] for h in history)
            base_total = sum(h[1] for h in history)
            share = (base_negatives + 1) / (base_total + 2)
            result["baseline_share"] = share
            if total >= config.min_count:
                p_value = binomial_p_value(negatives, total, share)
                result.update(
                    tested=True, p_value=p_value,
                    statistic=(negatives - total * share) / math.sqrt(
                        total * share * (1 - share)),
                    significant=p_value < config.threshold)
        quiet = self.quiet.get(topic, config.clear_after)
        result["alert"] = (result["significant"] and
                           quiet >= config.clear_after)
        quiet = 0 if result["significant"] else quiet + 1
        self.quiet[topic] = min(quiet, config.clear_after)
        run = self.run.get(topic, 0) + 1 if result["significant"] else 0
        self.run[topic] = run
        if not result["significant"] or run > config.adapt_after:
            history.append([int(negatives), int(total)])
        return result

    def get_state(self):
        """JSON-able state (`set_state` restores it)."""
        return {"history": {t: list(map(list, h))
                            for t, h in self.history.items()},
                "run": dict(self.run), "quiet": dict(self.quiet)}

    def set_state(self, state):
        self.history = {}
        for topic, rows in state["history"].items():
            self._history(topic).extend(rows)
        self.run = dict(state["run"])
        self.quiet = dict(state["quiet"])


def simulate_false_alarms(config, negative_share, mean_count, windows,
                          seed=0):
    """False alarms of the test on pure noise (no burst), by simulation.

    Each window has `Poisson(mean_count)` texts, each negative with
    probability `negative_share`; every alert is a false alarm.

    Args:
        config: `AlertConfig`.
        negative_share: float in (0, 1).
        mean_count: float. Mean texts per window.
        windows: int. Windows simulated (one topic).
        seed: int.

    Returns:
        dict: `windows`, `tested`, `alerts`, `significant`,
        `alerts_per_1000_windows`.
    """
    rng = np.random.default_rng(seed)
    totals = rng.poisson(mean_count, windows)
    negatives = rng.binomial(totals, negative_share)
    alerter = BaselineAlerter(config)
    tested = alerts = significant = 0
    for k, n in zip(negatives, totals):
        result = alerter.test("noise", int(k), int(n))
        tested += result["tested"]
        alerts += result["alert"]
        significant += result["significant"]
    return {"windows": windows, "tested": tested, "alerts": alerts,
            "significant": significant,
            "alerts_per_1000_windows": 1000 * alerts / windows}
