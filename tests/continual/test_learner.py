"""Continual runs on a tiny random BERT (issue 31): what each method may and
may not change, and the figures computed from the run's own matrix."""

import numpy as np
import pytest

from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_backbone
from tiny import tiny_tokenizer
from tfllm.continual import ContinualConfig
from tfllm.continual import ContinualLearner
from tfllm.continual import ContinualTask
from tfllm.continual import metrics

A = ["the board met", "anna visited lyon", "investors from porto",
     "the board of zorbex"] * 3
YA = ["x", "y", "y", "x"] * 3
B = ["lyon and porto", "anna hires", "met again", "yesterday the board"] * 3
YB = ["p", "q", "r", "p"] * 3


def _tasks():
    return [ContinualTask("a", "classification", ["x", "y"], A, YA, A[:4],
                          YA[:4]),
            ContinualTask("b", "classification", ["p", "q", "r"], B, YB,
                          B[:4], YB[:4])]


def _learner(method, tasks=None, **settings):
    options = dict(epochs=2, batch_size=4, learning_rate=1e-2, max_length=16)
    options.update(settings)
    config = ContinualConfig(method=method, **options)
    return ContinualLearner(tasks or _tasks(), config,
                            backbone_model=tiny_backbone(),
                            tokenizer=tiny_tokenizer(), log=lambda _: None)


def test_sequential_leaves_old_heads_alone():
    learner = _learner("sequential")
    original = learner._train_phase
    before = {}

    def spy(examples, head_ids, memory=None, label=""):
        if "task 2/2" in label:
            before["head"] = learner.model.heads[0].kernel.numpy().copy()
        return original(examples, head_ids, memory, label)

    learner._train_phase = spy
    lines = []
    learner.log = lines.append
    result = learner.run()
    # progress within an epoch: 12 examples in batches of 4 are 3 steps, a
    # line after each step but the last
    steps = [line.split(" step ")[1].split(" ")[0] for line in lines
             if " step " in line and "task 1/2" in line and "epoch 1/" in line]
    assert steps == ["1/3", "2/3"]
    np.testing.assert_array_equal(before["head"],
                                  learner.model.heads[0].kernel.numpy())
    summary = result.summary()
    # figures recomputed by hand from the run's own matrix
    R = result.R
    assert summary["backward_transfer"] == pytest.approx(R[1, 0] - R[0, 0])
    assert summary["average_accuracy"] == pytest.approx(
        (R[1, 0] + R[1, 1]) / 2)
    assert learner.memory is None


def test_lora_keeps_the_backbone_and_restores_each_task_exactly():
    learner = _learner("lora", learning_rate=5e-2)
    learner._build = (lambda build=learner._build: (build(), _snapshot()))
    frozen = {}

    def _snapshot():
        frozen.update({v.path: v.numpy().copy() for v in
                       learner.model.backbone.weights
                       if "lora" not in v.path})

    result = learner.run()
    for variable in learner.model.backbone.weights:
        if "lora" not in variable.path:
            np.testing.assert_array_equal(frozen[variable.path],
                                          variable.numpy())
    # switching back to task a's adapter gives task a's score exactly
    assert result.R[1, 0] == result.R[0, 0]
    assert metrics.backward_transfer(np.tril(result.R)) == 0.0
    first, second = learner.adapters[0], learner.adapters[1]
    assert any(not np.array_equal(x, y) for x, y in zip(first, second))
    routed = result.summary()["routed"]
    assert len(routed["routing_accuracy"]) == 2
    assert routed["routing_accuracy"][0] == 1.0  # one task: always right


def test_ewc_adds_a_penalty_after_each_task_but_the_last():
    learner = _learner("ewc", fisher_examples=4, ewc_lambda=10.0, epochs=1)
    learner.run()
    # Fisher after every task but the last (nothing follows it)
    assert learner.penalty.tasks == 1
    assert float(learner.penalty()) >= 0.0


def test_token_classification_sequence_scores_entity_f1():
    labels = ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    x = [SENTENCE_A, SENTENCE_B] * 3
    y1 = [TAGS_A, TAGS_B] * 3
    y2 = [[t if "PER" in t else "O" for t in s] for s in y1]
    tasks = [ContinualTask("n1", "token_classification", labels, x, y1,
                           x[:2], y1[:2]),
             ContinualTask("n2", "token_classification",
                           ["O", "B-PER", "I-PER"], x, y2, x[:2], y2[:2])]
    result = _learner("sequential", tasks, max_length=8, epochs=1).run()
    assert result.metric == "entity_f1"
    assert not np.isnan(np.tril(result.R)[np.tril_indices(2)]).any()


def test_mixed_kinds_and_bad_labels_are_errors():
    with pytest.raises(ValueError, match="not one of"):
        ContinualTask("a", "classification", ["x"], ["t"], ["z"], ["t"],
                      ["x"])
    ner = ContinualTask("n", "token_classification", ["O"], [["w"]], [["O"]],
                        [["w"]], [["O"]])
    with pytest.raises(ValueError, match="one kind"):
        ContinualLearner([_tasks()[0], ner])
    with pytest.raises(ValueError, match="method"):
        ContinualConfig(method="gem")


def test_a_killed_run_resumes_after_its_last_finished_task(tmp_path):
    """Stopped during task 2, a rerun restores task 1's weights, scores and
    replay memory and trains task 2 only."""
    stopped = _learner("replay", replay_size=5)
    stopped.state_dir = tmp_path
    original = stopped._train_phase
    at_stop = {}

    def die_on_second(examples, head_ids, memory=None, label=""):
        if "task 2/2" in label:
            at_stop["weights"] = [w.numpy().copy()
                                  for w in stopped.model.weights]
            at_stop["memory"] = [item[0].tolist() for item in memory.items]
            raise KeyboardInterrupt
        return original(examples, head_ids, memory, label)

    stopped._train_phase = die_on_second
    with pytest.raises(KeyboardInterrupt):
        stopped.run()
    resumed = _learner("replay", replay_size=5)
    resumed.state_dir = tmp_path
    seen = []
    original_resumed = resumed._train_phase

    def record(examples, head_ids, memory=None, label=""):
        seen.append(label)
        for before, now in zip(at_stop["weights"], resumed.model.weights):
            np.testing.assert_array_equal(before, now.numpy())
        assert [item[0].tolist() for item in memory.items] == \
            at_stop["memory"]
        return original_resumed(examples, head_ids, memory, label)

    resumed._train_phase = record
    result = resumed.run()
    assert len(seen) == 1 and "task 2/2" in seen[0]
    # replay trains the old task's head on the memory (sequential does not)
    assert not np.array_equal(at_stop["weights"][
        _head_index(resumed)], resumed.model.heads[0].kernel.numpy())
    # a 5-item uniform reservoir over the 24 examples of both tasks
    assert len(resumed.memory) == 5 and resumed.memory.seen == 24
    assert result.R[0, 0] == stopped_row(tmp_path)
    assert not np.isnan(result.R[1, :2]).any()
    other = _learner("replay", replay_size=6)
    other.state_dir = tmp_path
    with pytest.raises(ValueError, match=r"replay_size 5 \(now 6\)"):
        other.run()


def _head_index(learner):
    kernel = learner.model.heads[0].kernel
    return [w.path for w in learner.model.weights].index(kernel.path)


def stopped_row(run_dir):
    import pickle

    with open(run_dir / "continual_state" / "state.pkl", "rb") as handle:
        return pickle.load(handle)["progress"]["R"][0, 0]

