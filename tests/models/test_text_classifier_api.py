"""TextClassifier's high-level methods (tfllm.models.text_classifier_api)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfllm.data.errors import DataFormatError
from tfllm.models.text_classifier import TextClassifier
from tiny import CLS_GOLD
from tiny import CLS_LABELS
from tiny import CLS_TEXTS
from tiny import tiny_text_classifier
from tiny import write_csv


def test_fit_on_pairs_predict_evaluate_save_load_export(tiny_cls_preset,
                                                        tmp_path):
    from tfllm.inference.classifier import ClassifierPredictor

    valid = write_csv(tmp_path / "valid.csv", list(zip(CLS_TEXTS, CLS_GOLD)))
    model = TextClassifier.from_pretrained(
        str(tiny_cls_preset), labels=CLS_LABELS, max_length=8, dropout=0.0,
        seed=0)
    seen = []
    import keras

    class EpochSpy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    history = model.fit(list(zip(CLS_TEXTS, CLS_GOLD)) * 3,
                        validation_data=str(valid), epochs=2, batch_size=4,
                        learning_rate=1e-2, run_dir=tmp_path / "run",
                        callbacks=[EpochSpy()])
    assert seen == [0, 1]
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2
    records = [json.loads(line) for line in
               (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert history.history["val_accuracy"] == [
        r["val_accuracy"] for r in records]
    assert (tmp_path / "run" / "best.weights.h5").is_file()

    one = model.predict("great movie")
    assert one["label"] in CLS_LABELS
    assert sum(one["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert one["probability"] == max(one["probabilities"].values())
    many = model.predict(CLS_TEXTS)
    assert [r["label"] for r in many][0] == one["label"]

    report = model.evaluate(str(valid))
    from_lists = model.evaluate(CLS_TEXTS, CLS_GOLD)
    assert (report["accuracy"], report["macro_f1"]) == (
        from_lists["accuracy"], from_lists["macro_f1"])
    correct = sum(r["label"] == g for r, g in zip(many, CLS_GOLD))
    assert report["accuracy"] == pytest.approx(correct / len(CLS_GOLD))
    assert report["num_examples"] == 8 and "probabilities" not in report
    assert set(report) >= {"macro_f1", "report", "confusion_matrix"}
    # The best epoch's weights are the model's (validation accuracy).
    assert report["accuracy"] == max(history.history["val_accuracy"])

    model.save(tmp_path / "m.keras")
    loaded = TextClassifier.load(tmp_path / "m.keras")
    again = loaded.predict(CLS_TEXTS)
    assert [r["label"] for r in again] == [r["label"] for r in many]
    np.testing.assert_allclose([r["probability"] for r in again],
                               [r["probability"] for r in many], rtol=1e-5)

    version = model.export(tmp_path / "sm" / "sentiment")
    assert (version / "saved_model.pb").is_file() and version.name == "1"
    served = ClassifierPredictor(tmp_path / "sm" / "sentiment")(CLS_TEXTS)
    assert [r["label"] for r in served] == [r["label"] for r in many]
    with pytest.raises(ValueError, match="a SavedModel export"):
        TextClassifier.load(tmp_path / "sm" / "sentiment")

    bundle = model.export(tmp_path / "lite", format="litert",
                          flavours=["float32"])
    assert (bundle / "float32.tflite").is_file()
    assert (bundle / "labels.txt").read_text().split() == CLS_LABELS


def test_unknown_labels_and_bad_inputs_raise_clear_errors(tmp_path):
    model = tiny_text_classifier()
    with pytest.raises(ValueError, match=r"y\[1\]: unknown label 'neutral'"):
        model.fit(["great", "awful"], ["positive", "neutral"])
    with pytest.raises(ValueError, match=r"x\[0\]: unknown label 'meh'"):
        model.evaluate([("great", "meh")])
    bad = write_csv(tmp_path / "bad.csv", [("great", "positive"),
                                           ("awful", "sarcastic")])
    with pytest.raises(DataFormatError,
                       match=rf"{bad}:3: unknown label 'sarcastic'"):
        model.fit(str(bad), validation_data=str(bad))
    with pytest.raises(FileNotFoundError,
                       match=r"validation_data: .*nope.csv: no such file"):
        model.fit(CLS_TEXTS, CLS_GOLD,
                  validation_data=str(tmp_path / "nope.csv"))
    with pytest.raises(TypeError, match="unknown arguments \\['learning_rat'"):
        model.fit(CLS_TEXTS, CLS_GOLD, learning_rat=1e-3)
    with pytest.raises(ValueError, match="4 texts but 2 labels"):
        model.fit(CLS_TEXTS[:4], CLS_GOLD[:2])
    with pytest.raises(ValueError, match="label set"):
        model.fit(["great"], [["positive"]])
    with pytest.raises(ValueError, match="give labels"):
        TextClassifier.from_pretrained("minilm")


def test_tensors_and_tf_data_go_to_keras():
    import keras

    model = tiny_text_classifier()
    encoding = model.preprocessor(tf.constant(CLS_TEXTS))
    inputs = model.model_inputs(encoding)
    labels = np.array([CLS_LABELS.index(g) for g in CLS_GOLD], np.int32)
    model.compile(optimizer="adam", loss=keras.losses.
                  SparseCategoricalCrossentropy(from_logits=True))
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    history = model.fit(dataset, epochs=2, verbose=0)
    assert isinstance(history, keras.callbacks.History)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(model.evaluate(dataset, verbose=0))
    logits = model.predict({k: v.numpy() for k, v in inputs.items()},
                           verbose=0)
    assert logits.shape == (8, 2)
    np.testing.assert_allclose(
        model.predict(CLS_TEXTS[0])["probabilities"]["positive"],
        tf.nn.softmax(logits[0]).numpy()[1], rtol=1e-4)


def test_multi_label_predict_returns_the_labels_over_threshold():
    model = tiny_text_classifier(multi_label=True, thresholds=[0.0, 1.01])
    result = model.predict(["great movie"])[0]
    assert result["labels"] == ["negative"]
    model.thresholds = [1.01, 0.0]  # a changed threshold is used
    assert model.predict("great movie")["labels"] == ["positive"]
