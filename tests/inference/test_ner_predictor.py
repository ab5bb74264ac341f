"""NER prediction from export folders, version folders and models."""

import pytest

from tfllm.cli import predict_ner
from tfllm.inference.ner import NerPredictor
from tfllm.models.token_classifier import TokenClassifier
from tiny import tiny_token_classifier

TEXT = "Anna visited Lyon ."


def test_export_folder_predicts_with_its_newest_version(tmp_path):
    """`--model saved_models/<name>` (the folder TF Serving watches, with
    version subfolders) works as a run folder does: its newest version."""
    model = tiny_token_classifier(sequence_length=8)
    base = tmp_path / "sm" / "cluener_ner"
    first = model.export(base)
    assert first == base / "1"
    expected = model.predict([TEXT])
    results = predict_ner.main(["--model", str(base), "--json", TEXT])
    assert results == expected
    (base / "2").mkdir()  # a version being written: no saved_model.pb yet
    assert NerPredictor(base)([TEXT]) == expected
    with pytest.raises(ValueError, match="an exported SavedModel, not a "
                                         "Keras model; predict with it"):
        TokenClassifier.load(base)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        NerPredictor(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="neither a run folder"):
        NerPredictor(tmp_path / "sm")
