"""TFLite flavours match the Keras model; outside case BR-09 exactly."""

import keras
import keras_hub
import numpy as np
import pytest

from tfllm.export import tflite
from tfllm.export.tflite import CollapsedModelError
from tfllm.export.tflite import LiteRTModel
from tfllm.export.tflite import convert
from tfllm.export.tflite import convert_checked
from tfllm.export.tflite import representative_dataset
from tfllm.export.tflite import write_token_id_saved_model
from tiny import tiny_token_classifier

# Largest |TFLite logit - Keras logit| accepted per flavour on the tiny
# NER model (random weights, logits of order 1). float32 is exact up to
# float rounding; float16 rounds weights to 11 significant bits; int8
# rounds weights (dynamic) and also activations (full integer).
TOLERANCE = {"float32": 1e-5, "float16": 2e-3, "dynamic_int8": 2e-2,
             "int8": 5e-2, "int16x8": 2e-2}


def _ner_inputs(seed, rows, length, vocabulary_size=27):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocabulary_size, (rows, length)).astype(np.int32)
    ids[:, 0] = 2
    return {"token_ids": ids, "padding_mask": np.ones_like(ids),
            "segment_ids": np.zeros_like(ids),
            "casing_ids": rng.integers(0, 4, (rows, length)).astype(np.int32)}


@pytest.fixture(scope="module")
def ner_model():
    return tiny_token_classifier(sequence_length=16)


@pytest.fixture(scope="module")
def ner_saved_model(ner_model, tmp_path_factory):
    return write_token_id_saved_model(
        ner_model, tmp_path_factory.mktemp("token_ids"))


@pytest.fixture(scope="module")
def ner_saved_model_16x8(ner_model, tmp_path_factory):
    return write_token_id_saved_model(
        ner_model, tmp_path_factory.mktemp("token_ids_16x8"),
        integer_friendly=True)


@pytest.mark.parametrize("flavour", tflite.FLAVOURS)
def test_each_flavour_matches_keras(ner_model, ner_saved_model,
                                    ner_saved_model_16x8, flavour):
    calibration = [_ner_inputs(i, 1, 12) for i in range(8)]
    saved = ner_saved_model_16x8 if flavour == "int16x8" else ner_saved_model
    blob = convert(saved, flavour, lambda: iter(calibration))
    lite = LiteRTModel(blob)
    assert set(lite.input_types()) == {
        "token_ids", "padding_mask", "segment_ids", "casing_ids"}
    assert all(t == np.int32 for t in lite.input_types().values())
    # Dynamic batch and length: two shapes through the same interpreter.
    for rows, length in ((1, 12), (3, 7)):
        inputs = _ner_inputs(100 + rows, rows, length)
        expected = ner_model(inputs, training=False).numpy()
        got = lite(inputs)
        assert got.shape == expected.shape == (rows, length, 7)
        assert np.abs(got - expected).max() < TOLERANCE[flavour]


def _with_outlier_channel(model, offset=100.0):
    """Adds `offset` to residual channel 0 after every feed-forward block
    and rescales the LayerNorm after it so that its output stays about the
    same: the residual stream then carries one channel ~100x larger than
    the rest, as in BERT encoders (all-MiniLM-L6-v2: up to 223 against a
    median channel range of 2.2)."""
    for layer in model.backbone.transformer_layers:
        bias = layer._feedforward_output_dense.bias
        hidden = bias.shape[0]
        bias.assign(bias.numpy() + np.eye(hidden)[0] * offset)
        norm = layer._feedforward_layer_norm
        gamma = norm.gamma.numpy() * offset / np.sqrt(hidden)
        gamma[0] = 0.0
        norm.gamma.assign(gamma)
    return model


def test_int16x8_keeps_what_int8_loses_to_an_outlier_channel(tmp_path):
    model = _with_outlier_channel(tiny_token_classifier(sequence_length=16))
    calibration = [_ner_inputs(i, 1, 12) for i in range(16)]
    inputs = _ner_inputs(7, 4, 12)
    expected = model(inputs, training=False).numpy()
    errors = {}
    for flavour in ("int8", "int16x8"):
        saved = write_token_id_saved_model(
            model, tmp_path / flavour, integer_friendly=flavour == "int16x8")
        lite = LiteRTModel(convert(saved, flavour, lambda: iter(calibration)))
        errors[flavour] = np.abs(lite(inputs) - expected).max()
    assert errors["int16x8"] < errors["int8"] / 8


def test_integer_friendly_layers_change_nothing_in_float(ner_model):
    from tfllm.export.integer_ops import integer_friendly_layers

    inputs = _ner_inputs(3, 2, 10)
    expected = ner_model(inputs, training=False).numpy()
    with integer_friendly_layers(ner_model) as (embeddings, norms):
        swapped = ner_model(inputs, training=False).numpy()
    # token, segment and casing embeddings; embedding LayerNorm and two
    # per layer.
    assert (embeddings, norms) == (3, 5)
    np.testing.assert_allclose(swapped, expected, atol=1e-5)
    assert "call" not in vars(ner_model.backbone.transformer_layers[0]
                              ._feedforward_layer_norm)


def test_unknown_flavour_and_int8_without_data(ner_saved_model):
    with pytest.raises(ValueError, match="flavour must be one of"):
        convert(ner_saved_model, "int4")
    with pytest.raises(ValueError, match="representative dataset"):
        convert(ner_saved_model, "int8")


# === Outside case BR-09 ===

def _br09_classifier():
    """Tiny BERT classifier of BR-09, briefly fine-tuned (logit margins)."""
    from tfllm.models.text_classifier import TextClassifier

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=200, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16, dropout=0.0)
    model = TextClassifier(backbone, ["a", "b", "c"], dropout=0.0)
    rng = np.random.default_rng(1)
    ids = rng.integers(4, 200, (256, 16)).astype(np.int32)
    ids[:, 0] = 2
    labels = np.digitize(ids[:, 1], [70, 135])  # class of the first token
    x = {"token_ids": ids, "padding_mask": np.ones_like(ids),
         "segment_ids": np.zeros_like(ids)}
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    model.fit(x, labels, batch_size=32, epochs=30, verbose=0)
    return model


def _br09_probe():
    """32 sequences: seed 0, length 3-16, ids in [4, 200), [CLS]=2 first."""
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(32):
        length = int(rng.integers(3, 17))
        ids = rng.integers(4, 200, length).astype(np.int32)
        ids[0] = 2
        rows.append({"token_ids": ids[None, :],
                     "padding_mask": np.ones((1, length), np.int32),
                     "segment_ids": np.zeros((1, length), np.int32)})
    return rows


@pytest.fixture(scope="module")
def br09():
    model = _br09_classifier()
    probe = _br09_probe()
    calibration = {k: [r[k][0] for r in probe[:8]] for k in probe[0]}
    return model, probe, calibration


@pytest.fixture(scope="module")
def br09_converted(br09):
    """`convert_checked` of the BR-09 model, each (flavour, length) once."""
    model, probe, calibration = br09
    done = {}

    def get(flavour, length):
        if (flavour, length) not in done:
            done[flavour, length] = convert_checked(
                model, flavour, calibration, probe, length)
        return done[flavour, length]

    return get


def test_br09_representative_data_is_int32(br09):
    _, _, calibration = br09
    samples = list(representative_dataset(calibration,
                                          sequence_length=16)())
    assert len(samples) == 8
    for sample in samples:
        assert set(sample) == {"token_ids", "padding_mask", "segment_ids"}
        for value in sample.values():
            assert value.dtype == np.int32 and value.shape == (1, 16)


def test_br09_float32_ids_fail_like_the_issue(br09, tmp_path):
    model, _, calibration = br09
    folder = write_token_id_saved_model(model, tmp_path / "sm", 16, 1)

    def float_ids():
        for sample in representative_dataset(calibration,
                                             sequence_length=16)():
            yield {k: v.astype(np.float32) for k, v in sample.items()}

    with pytest.raises(ValueError, match="Cannot set tensor: Got value of "
                       "type FLOAT32 but expected type INT32"):
        convert(folder, "int8", float_ids)


@pytest.mark.parametrize("flavour, length",
                         [("dynamic_int8", 16), ("int8", 16), ("int8", None)])
def test_br09_quantized_keeps_int32_ids_and_agrees(br09, br09_converted,
                                                  flavour, length):
    """The case's fixed length 16 (padded rows: bounded attention masks make
    full integer work there, see the next test) and dynamic length."""
    model, _, _ = br09
    blob, report = br09_converted(flavour, length)
    assert report["inputs"] == {"padding_mask": "int32",
                                "segment_ids": "int32", "token_ids": "int32"}
    assert report["input_shapes"]["token_ids"] == (
        [1, 16] if length else [-1, -1])
    assert report["agreeing"] == report["compared"] == 32
    assert report["agreement"] == 1.0
    # Logits of the fine-tuned model are of order 5 (median margin 4.8).
    bound = {"dynamic_int8": 0.2, "int8": 1.0}[flavour]
    assert 0 < report["max_abs_logit_diff"] < bound
    # Id 199 (> 127) reaches the embedding as 199: the quantized logits
    # follow the float model's for 199, not those for a clipped 127.
    lite = LiteRTModel(blob)
    ids = np.full((1, 16), 5, np.int32)
    ids[0, 0], ids[0, 1] = 2, 199
    feed = {"token_ids": ids, "padding_mask": np.ones_like(ids),
            "segment_ids": np.zeros_like(ids)}
    clipped = dict(feed, token_ids=np.where(ids == 199, 127, ids))
    got = lite(feed)
    expected = model(feed, training=False).numpy()
    other = model(clipped, training=False).numpy()
    assert np.abs(got - expected).max() < bound
    assert np.abs(got - other).max() > 3 * np.abs(got - expected).max()


def test_br09_collapse_is_refused(br09, br09_converted):
    """Full-integer int8 at the fixed length 16 traced with Keras's own
    masks (padded keys at -0.7 * float32 max, so the int8 scale of the
    attention scores is ~1e36 and attention turns uniform) loses 5 of the
    32 probe argmaxes here (max |delta logit| about 2): the guard refuses
    it instead of shipping it. `convert_checked` bounds the masks for
    int8 by default, which keeps 32/32 (previous test)."""
    model, probe, calibration = br09
    with pytest.raises(CollapsedModelError,
                       match=r"on 27/32 probe argmaxes \(0.844 < 0.95\)"):
        convert_checked(model, "int8", calibration, probe, 16,
                        bounded_masks=False)
    # The report of an accepted conversion has what the guard checks
    # (the dynamic_int8 conversion at length 16 of the previous test).
    _, report = br09_converted("dynamic_int8", 16)
    assert set(report) >= {"agreement", "agreeing", "compared",
                           "max_abs_logit_diff", "bytes", "inputs"}


def test_fixed_length_rejects_longer_input():
    with pytest.raises(ValueError, match="longer than the declared"):
        representative_dataset({"token_ids": [[2] * 20]},
                               sequence_length=16)


def test_agreement_report_counts_tagged_tokens():
    """Token agreement, and agreement on the tokens Keras tags non-O."""
    expected = np.array([[[3, 0, 0], [0, 3, 0], [3, 0, 0], [0, 0, 3]]],
                        np.float32)  # tags O, B, O, I

    def keras_model(inputs, training=False):
        return expected

    def lite_model(inputs):
        return np.array([[[3, 0, 0], [3, 0, 0], [3, 0, 0], [0, 0, 3]]],
                        np.float32)  # B lost to O

    ids = np.array([[2, 5, 6, 3]], np.int32)
    probe = [{"token_ids": ids, "padding_mask": np.ones_like(ids)}]
    report = tflite.agreement_report(keras_model, lite_model, probe)
    assert (report["agreeing"], report["compared"]) == (3, 4)
    assert report["agreement"] == 0.75
    assert (report["tagged_agreement"], report["tagged_agreeing"],
            report["tagged_compared"]) == (0.5, 1, 2)
    assert report["max_abs_logit_diff"] == 3.0


def test_guard_refuses_low_tagged_agreement():
    """97% of tokens agree but half of the entity tokens are lost to O."""
    report = {"flavour": "int8", "agreement": 0.97, "agreeing": 97,
              "compared": 100, "max_abs_logit_diff": 4.2,
              "tagged_agreement": 0.5, "tagged_agreeing": 3,
              "tagged_compared": 6}
    with pytest.raises(CollapsedModelError,
                       match=r"int8 TFLite model agrees with the Keras model "
                       r"on 3/6 tagged \(non-O\) probe tokens \(0.500 < "
                       r"0.95\)"):
        tflite.check_agreement(report, 0.95)
    tflite.check_agreement(dict(report, tagged_agreement=1.0,
                                tagged_agreeing=6), 0.95)
    # No tagged tokens compared (a classifier): only the overall figure.
    tflite.check_agreement({"agreement": 0.96, "agreeing": 96,
                            "compared": 100, "max_abs_logit_diff": 1.0},
                           0.95)
    with pytest.raises(CollapsedModelError, match=r"on 90/100 probe "
                       r"argmaxes \(0.900 < 0.95\)"):
        tflite.check_agreement(dict(report, agreement=0.9, agreeing=90,
                                    tagged_agreement=1.0,
                                    tagged_agreeing=6), 0.95)
