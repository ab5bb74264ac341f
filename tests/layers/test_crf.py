"""The CRF layer against brute-force enumeration of every label path."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.data.tagging import iob1_to_iob2
from tfllm.layers.crf import CRF
from tfllm.layers.crf import FORBIDDEN
from tfllm.layers.crf import allowed_transitions
from tfllm.layers.crf import crf_log_likelihood
from tfllm.layers.crf import tagging_scheme
from tfllm.layers.crf import viterbi_decode

LABELS = ["O", "B-PER", "I-PER"]


def random_crf_inputs(seed, batch_size=3, length=4, num_labels=3):
    rng = np.random.default_rng(seed)
    potentials = rng.normal(size=(batch_size, length, num_labels))
    transitions = rng.normal(size=(num_labels, num_labels))
    start, end = rng.normal(size=(2, num_labels))
    tags = rng.integers(0, num_labels, size=(batch_size, length))
    return [np.float32(a) for a in (potentials, transitions, start, end)] + [
        tags]


def path_score(emissions, path, transitions, start, end):
    """s(y) of one path, written out as in Lafferty et al. (2001)."""
    score = start[path[0]] + end[path[-1]]
    score += sum(emissions[t, y] for t, y in enumerate(path))
    score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
    return score


def all_paths(emissions, transitions, start, end):
    """Every label path of a sequence and its score."""
    paths = list(itertools.product(range(emissions.shape[1]),
                                   repeat=len(emissions)))
    scores = np.array([path_score(emissions, p, transitions, start, end)
                       for p in paths])
    return paths, scores


def brute_force_log_likelihood(emissions, tags, transitions, start, end):
    _, scores = all_paths(emissions, transitions, start, end)
    log_z = np.log(np.sum(np.exp(scores.astype(np.float64))))
    return path_score(emissions, tags, transitions, start, end) - log_z


def test_log_likelihood_equals_enumeration_of_all_paths():
    potentials, transitions, start, end, tags = random_crf_inputs(0)
    got = crf_log_likelihood(potentials, tags, None, transitions, start, end)
    want = [brute_force_log_likelihood(potentials[b], tags[b], transitions,
                                       start, end) for b in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
    assert np.all(got.numpy() < 0)


def test_masked_positions_in_the_middle_and_end_leave_the_sequence():
    potentials, transitions, start, end, tags = random_crf_inputs(1)
    mask = np.array([[1, 0, 1, 1], [1, 1, 1, 0], [0, 1, 0, 1]], bool)
    got = crf_log_likelihood(potentials, tags, mask, transitions, start, end)
    for b in range(3):
        kept = mask[b]
        want = brute_force_log_likelihood(
            potentials[b][kept], tags[b][kept], transitions, start, end)
        np.testing.assert_allclose(got[b], want, rtol=1e-5)
    # The scores and labels at masked positions play no part.
    noisy = np.where(mask[:, :, None], potentials, 1e3)
    other_tags = np.where(mask, tags, 2)
    np.testing.assert_allclose(
        crf_log_likelihood(noisy, other_tags, mask, transitions, start,
                           end), got, rtol=1e-6)
    variable = tf.Variable(potentials)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(crf_log_likelihood(
            variable, tags, mask, transitions, start, end))
    gradient = tape.gradient(total, variable).numpy()
    assert np.all(gradient[~mask] == 0)
    assert np.abs(gradient[mask]).min() > 0


def test_empty_sequences_cost_nothing_and_decode_to_nothing():
    potentials, transitions, start, end, tags = random_crf_inputs(2)
    mask = np.zeros((3, 4), bool)
    mask[0, 2] = True
    got = crf_log_likelihood(potentials, tags, mask, transitions, start, end)
    assert got.numpy()[1] == 0 and got.numpy()[2] == 0
    decoded, scores = viterbi_decode(potentials, mask, transitions, start,
                                     end)
    assert decoded.numpy()[1:].tolist() == [[0] * 4] * 2
    assert scores.numpy()[1] == 0
    empty, _ = viterbi_decode(np.zeros((2, 0, 3), np.float32), None,
                              transitions, start, end)
    assert empty.shape == (2, 0)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_viterbi_equals_brute_force_argmax(seed):
    potentials, transitions, start, end, _ = random_crf_inputs(
        seed, batch_size=4, length=5)
    mask = np.array([[1] * 5, [1, 1, 0, 1, 0], [0, 1, 1, 1, 1],
                     [1, 0, 0, 0, 0]], bool)
    tags, scores = viterbi_decode(potentials, mask, transitions, start, end)
    for b in range(4):
        paths, all_scores = all_paths(potentials[b][mask[b]], transitions,
                                      start, end)
        best = paths[int(np.argmax(all_scores))]
        assert tags.numpy()[b][mask[b]].tolist() == list(best)
        assert np.all(tags.numpy()[b][~mask[b]] == 0)
        np.testing.assert_allclose(scores[b], all_scores.max(), rtol=1e-5)


def test_allowed_transitions_iob2():
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    allowed = allowed_transitions(labels)
    start, end = 5, 6
    assert allowed.shape == (7, 7)
    # I-LOC only after B-LOC or I-LOC, never first.
    assert [labels[i] for i in range(5) if allowed[i, 2]] == [
        "B-LOC", "I-LOC"]
    assert not allowed[start, 2] and not allowed[start, 4]
    assert allowed[start, 0] and allowed[start, 1] and allowed[start, 3]
    # O and B-X may follow anything; any label may end a path.
    assert allowed[:5, 0].all() and allowed[:5, 3].all()
    assert allowed[:5, end].all()
    assert not allowed[:, start].any() and not allowed[end].any()


def test_allowed_transitions_bioes():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC"]
    allowed = allowed_transitions(labels, scheme="BIOES")
    start, end = 7, 8

    def followers(label):
        i = labels.index(label)
        return [labels[j] for j in range(7) if allowed[i, j]]

    assert followers("B-PER") == ["I-PER", "E-PER"]
    assert followers("I-PER") == ["I-PER", "E-PER"]
    assert followers("E-PER") == ["O", "B-PER", "S-PER", "B-LOC"]
    assert followers("S-PER") == followers("O") == followers("E-LOC")
    assert [labels[j] for j in range(7) if allowed[start, j]] == [
        "O", "B-PER", "S-PER", "B-LOC"]
    assert [labels[i] for i in range(7) if allowed[i, end]] == [
        "O", "E-PER", "S-PER", "E-LOC"]


def test_allowed_transitions_errors_and_scheme_detection():
    with pytest.raises(ValueError, match="scheme"):
        allowed_transitions(LABELS, scheme="IOB1")
    with pytest.raises(ValueError, match="'E-PER' is not IOB2"):
        allowed_transitions(["O", "B-PER", "E-PER"])
    assert tagging_scheme(LABELS) == "IOB2"
    assert tagging_scheme(["O", "B-X", "I-X", "E-X", "S-X"]) == "BIOES"
    assert tagging_scheme(["NOUN", "VERB"]) is None
    assert tagging_scheme(["O", "X-PER"]) is None


def is_valid_iob2(tags):
    return iob1_to_iob2(tags) == tags


def test_forbidden_transitions_are_never_decoded():
    labels = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    crf = CRF(len(labels), allowed=allowed_transitions(labels))
    rng = np.random.default_rng(6)
    # Emissions that favour I- labels everywhere: argmax would start with
    # I-X and jump between types.
    potentials = rng.normal(size=(64, 6, 5)).astype(np.float32)
    potentials[:, :, [2, 4]] += 3.0
    mask = rng.random((64, 6)) < 0.8
    argmax = [[labels[i] for i in row] for row in potentials.argmax(-1)]
    assert not all(is_valid_iob2(t) for t in argmax)
    tags = crf(potentials, mask).numpy()
    for row, keep in zip(tags, mask):
        assert is_valid_iob2([labels[i] for i in row[keep]])
    # It is the best path among the allowed ones (brute force).
    transitions, start, end = (t.numpy() for t in
                               crf.constrained_transitions())
    assert transitions[0, 2] == FORBIDDEN and start[2] == FORBIDDEN
    paths, scores = all_paths(potentials[0][mask[0]], transitions, start,
                              end)
    valid = [s if is_valid_iob2([labels[i] for i in p]) else -np.inf
             for p, s in zip(paths, scores)]
    assert list(paths[int(np.argmax(valid))]) == tags[0][mask[0]].tolist()


def test_constraint_is_fixed_and_config_round_trips():
    crf = CRF(3, allowed=allowed_transitions(LABELS), name="crf")
    assert [v.path for v in crf.trainable_variables] == [
        "crf/transitions", "crf/start_transitions", "crf/end_transitions"]
    assert all(np.all(v.numpy() == 0) for v in crf.weights)
    potentials = tf.random.stateless_normal([2, 5, 3], seed=[1, 2])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(crf.log_likelihood(potentials, [[1, 2, 0, 0,
                                                               0]] * 2))
    for gradient in tape.gradient(loss, crf.trainable_variables):
        assert np.abs(gradient.numpy()).max() > 0
    config = crf.get_config()
    assert config["num_labels"] == 3
    assert config["allowed"] == allowed_transitions(LABELS).tolist()
    clone = keras.layers.deserialize(keras.layers.serialize(crf))
    assert isinstance(clone, CRF)
    np.testing.assert_array_equal(clone.allowed, crf.allowed)
    assert CRF.from_config(CRF(3).get_config()).allowed is None
    with pytest.raises(ValueError, match=r"\[5, 5\]"):
        CRF(3, allowed=np.ones((3, 3), bool))


def test_viterbi_runs_in_tflite_builtins(tmp_path):
    from tfllm.export.tflite import LiteRTModel
    from tfllm.export.tflite import convert

    crf = CRF(3, allowed=allowed_transitions(LABELS))
    rng = np.random.default_rng(7)
    crf.transitions.assign(rng.normal(size=(3, 3)).astype(np.float32))
    crf.end_transitions.assign(rng.normal(size=3).astype(np.float32))
    archive = keras.export.ExportArchive()
    archive.track(crf)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda potentials, mask: {"tags": crf(potentials, mask)},
        input_signature=[tf.TensorSpec([None, None, 3], tf.float32),
                         tf.TensorSpec([None, None], tf.bool)])
    archive.write_out(str(tmp_path / "crf"), verbose=False)
    lite = LiteRTModel(convert(tmp_path / "crf", "float32"))
    potentials = rng.normal(size=(3, 6, 3)).astype(np.float32)
    mask = np.array([[1] * 6, [1, 1, 0, 1, 1, 0], [1, 1, 1, 0, 0, 0]], bool)
    got = lite.runner(potentials=potentials, mask=mask)["tags"]
    np.testing.assert_array_equal(got, crf(potentials, mask).numpy())
