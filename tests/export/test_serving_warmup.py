"""TF Serving extras: warm-up records, models.config, atomic versions,
and the signature as `saved_model_cli` shows it (outside case BR-07)."""

import pathlib
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from tfllm.export import serving_warmup
from tfllm.export.exporter import export_raw_text
from tfllm.export.serving_warmup import WARMUP_FILE
from tfllm.export.serving_warmup import models_config
from tfllm.export.serving_warmup import read_warmup_file
from tiny import tiny_text_classifier
from tiny import tiny_token_classifier


@pytest.fixture(scope="module")
def ner_version(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models") / "ner"
    return export_raw_text(tiny_token_classifier(), base, "ner")


@pytest.fixture(scope="module")
def sentiment_version(tmp_path_factory):
    """Version 1 of a raw-text classifier export (one export, shared)."""
    base = tmp_path_factory.mktemp("saved_models") / "sentiment"
    return export_raw_text(tiny_text_classifier(), base, "sentiment")


def test_warmup_file_parses_as_prediction_log(ner_version):
    from tensorflow_serving.apis import prediction_log_pb2

    logs = read_warmup_file(ner_version / WARMUP_FILE)
    assert len(logs) == 2  # batch sizes 1 and 8
    for log, size in zip(logs, (1, 8)):
        assert isinstance(log, prediction_log_pb2.PredictionLog)
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == "ner"
        assert request.model_spec.signature_name == "serving_default"
        assert list(request.inputs) == ["text"]
        texts = tf.make_ndarray(request.inputs["text"])
        assert texts.shape == (size,)
        assert texts[0] == b"EU rejects German call to boycott British lamb ."
    # What TF Serving does with it: run each request on the signature.
    serve = tf.saved_model.load(str(ner_version)).signatures[
        "serving_default"]
    out = serve(text=tf.constant(tf.make_ndarray(
        logs[1].predict_log.request.inputs["text"])))
    assert out["tags"].shape[0] == 8


def test_models_config_is_a_model_server_config(ner_version):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    text = (ner_version.parent / "models.config").read_text()
    assert text == models_config({"ner": "/models/ner"})
    config = text_format.Parse(
        text, model_server_config_pb2.ModelServerConfig())
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == (
        "ner", "/models/ner", "tensorflow")


def test_interrupted_export_leaves_no_version(sentiment_version, tmp_path,
                                             monkeypatch):
    base = tmp_path / "sentiment"  # a copy of the complete version 1
    shutil.copytree(sentiment_version.parent, base)
    assert sorted(p.name for p in base.iterdir()) == ["1", "models.config"]

    def crash(folder, model_name, **kwargs):
        assert (pathlib.Path(folder) / "saved_model.pb").is_file()
        raise KeyboardInterrupt("killed while writing the warm-up file")

    monkeypatch.setattr(serving_warmup, "write_warmup_file", crash)
    with pytest.raises(KeyboardInterrupt):
        export_raw_text(tiny_text_classifier(), base, "sentiment")
    # Only the complete version 1 (and models.config) is there: no "2",
    # no temporary folder a polling server could pick up.
    assert sorted(p.name for p in base.iterdir()) == ["1", "models.config"]
    assert (base / "1" / WARMUP_FILE).is_file()


def test_saved_model_cli_lists_the_string_signature(sentiment_version):
    path = sentiment_version
    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    result = subprocess.run(
        [str(cli), "show", "--dir", str(path), "--tag_set", "serve",
         "--signature_def", "serving_default"],
        capture_output=True, text=True, check=True)
    out = result.stdout
    assert "inputs['text'] tensor_info:" in out
    assert "dtype: DT_STRING" in out
    assert "shape: (-1)" in out
    assert "outputs['label'] tensor_info:" in out
    assert "outputs['probabilities'] tensor_info:" in out
    assert "Method name is: tensorflow/serving/predict" in out
