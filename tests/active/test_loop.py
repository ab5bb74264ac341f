"""The simulated active learning loop (issue 31, active learning): the
oracle reveals a pool label only once its item is selected, nothing is
selected twice, the labelled set grows by batch_size per round, a run
folder resumes."""

import json

import numpy as np
import pytest

from tfllm.active.loop import ActiveLearningState
from tfllm.active.loop import run_active_learning
from tfllm.active.loop import select_batch
from tfllm.active.oracle import SimulatedOracle


class RecordingOracle(SimulatedOracle):
    """Checks each query against what the loop selected so far."""

    def __init__(self, labels, log):
        super().__init__(labels)
        self.log = log

    def label(self, positions):
        self.log.append(("oracle", [int(i) for i in positions]))
        return super().label(positions)


class NumpyLearner:
    """Deterministic fake: item i's probability of class 1 is the pool
    value x_i itself (labels are never looked at for prediction), so
    margin picks the x nearest 0.5 first; the metric is the labelled
    count / 100."""

    metric_name = "accuracy"

    def __init__(self, log):
        self.log = log
        self.fits = []

    def fit(self, inputs, labels, warm_start=False):
        self.fits.append((list(inputs), list(labels), warm_start))
        self.log.append(("fit", len(inputs)))

    def evaluate(self, inputs, labels):
        return len(self.fits[-1][0]) / 100

    def predict_probabilities(self, inputs):
        x = np.asarray(inputs, float)
        return np.stack([1 - x, x], axis=1), None


def test_loop_never_selects_twice_and_the_oracle_reveals_only_selected(
        tmp_path):
    pool = list(np.linspace(0.0, 1.0, 21))  # x_i = i / 20
    gold = ["neg" if x < 0.5 else "pos" for x in pool]
    log = []
    oracle = RecordingOracle(gold, log)
    learner = NumpyLearner(log)
    curve = run_active_learning(learner, pool, oracle, ([0.1], ["neg"]),
                                "margin", seed_size=3, batch_size=4,
                                rounds=3, seed=7, run_dir=tmp_path, log=None)
    assert [p["labels"] for p in curve] == [3, 7, 11, 15]
    assert [p["metric"] for p in curve] == [0.03, 0.07, 0.11, 0.15]
    queried = oracle.queried
    assert len(queried) == len(set(queried)) == 15
    # The seed set, then each round's selection, and nothing else: every
    # oracle query equals the batch the strategy selected just before.
    selections = [p["selected"] for p in curve[:-1]]
    oracle_calls = [c[1] for c in log if c[0] == "oracle"]
    assert oracle_calls[1:] == selections
    assert curve[-1]["selected"] == []
    # Margin by hand: x nearest 0.5 first among the unlabelled, ties
    # (0.45 and 0.55) to the lower position.
    seed_set = set(oracle_calls[0])
    expected = sorted((i for i in range(21) if i not in seed_set),
                      key=lambda i: (abs(pool[i] - 0.5), i))[:4]
    assert selections[0] == expected
    # Labels given to the learner are the gold ones of what was queried.
    inputs, labels, warm = learner.fits[-1]
    assert labels == [gold[i] for i in queried[:15]] and not warm
    saved = json.loads((tmp_path / "learning_curve.json").read_text())
    assert saved["strategy"] == "margin" and len(saved["curve"]) == 4
    # Resuming a finished run trains nothing and returns the same curve.
    again = run_active_learning(NumpyLearner([]), pool, SimulatedOracle(gold),
                                ([0.1], ["neg"]), "margin", 3, 4, 3, seed=7,
                                run_dir=tmp_path, log=None)
    assert [p["labels"] for p in again] == [3, 7, 11, 15]
    with pytest.raises(ValueError, match="batch_size"):
        run_active_learning(NumpyLearner([]), pool, SimulatedOracle(gold),
                            ([0.1], ["neg"]), "margin", 3, 5, 3, seed=7,
                            run_dir=tmp_path, log=None)


def test_oracle_refuses_a_second_query():
    oracle = SimulatedOracle(["a", "b"])
    assert oracle.label([1]) == ["b"]
    with pytest.raises(ValueError, match="labelled before"):
        oracle.label([1])


def test_random_and_pool_subsample_are_seeded_and_stay_in_candidates():
    candidates = list(range(10, 60))
    a = select_batch("random", None, None, candidates, 5, seed=[1, 2])
    assert a.tolist() == select_batch("random", None, None, candidates, 5,
                                      seed=[1, 2]).tolist()
    assert set(a.tolist()) <= set(candidates) and len(set(a.tolist())) == 5
    pool = list(np.linspace(0, 1, 60))
    sub = select_batch("margin", NumpyLearner([]), pool, candidates, 3,
                       seed=0, pool_subsample=8)
    assert set(sub.tolist()) <= set(candidates)
    with pytest.raises(ValueError, match="known: random"):
        select_batch("coreset", None, pool, candidates, 3)


def test_state_round_trips(tmp_path):
    state = ActiveLearningState()
    state.add([4, 2], ["x", "y"])
    state.pending = [7]
    state.save(tmp_path)
    loaded = ActiveLearningState.load(tmp_path)
    assert loaded.positions() == [4, 2] and loaded.pending == [7]
    with pytest.raises(ValueError, match="already labelled"):
        loaded.add([2], ["z"])


def test_one_tiny_real_model_round():
    """A tiny random TextClassifier through the real learner: one fit, a
    BALD selection from unlabelled positions only, probabilities summing to
    1, MC-dropout samples that differ between passes (dropout on)."""
    from tiny import CLS_LABELS
    from tiny import CLS_TEXTS
    from tiny import tiny_text_classifier

    from tfllm.active.learners import TextClassificationLearner

    learner = TextClassificationLearner(
        CLS_LABELS, epochs=1, batch_size=4,
        model_factory=lambda: tiny_text_classifier(dropout=0.5))
    learner.fit(CLS_TEXTS[:2], ["positive", "positive"])
    assert 0.0 <= learner.evaluate(CLS_TEXTS[4:], ["negative"] * 4) <= 1.0
    picked = select_batch("bald", learner, CLS_TEXTS, range(2, 8), 2,
                          mc_samples=3)
    assert len(set(picked.tolist())) == 2 and min(picked) >= 2
    probabilities, mask = learner.predict_probabilities(CLS_TEXTS)
    assert mask is None and probabilities.shape == (8, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    samples, _ = learner.mc_dropout_probabilities(CLS_TEXTS[:3], 2)
    assert samples.shape == (2, 3, 2)
    assert not np.allclose(samples[0], samples[1])
    assert learner.embeddings(CLS_TEXTS[:3]).shape == (3, 16)
    # A cold-start round clears Keras' session before building the next
    # model (six strategies x six rounds once grew one process past 15 GB)
    # and keeps the global dtype policy that clear_session resets.
    import keras

    keras.backend.get_uid("probe")
    keras.backend.get_uid("probe")
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        learner.fit(CLS_TEXTS[:2], ["positive", "negative"])
        assert keras.backend.get_uid("probe") == 1  # the session was reset
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        keras.config.set_dtype_policy("float32")
