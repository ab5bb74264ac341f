"""train_ner on Chinese character-labelled data with a Chinese vocabulary."""

import json

import pytest

from tfllm.cli import train_ner
from tfllm.inference.ner import NerPredictor
from tiny import tiny_cjk_backbone
from tiny import tiny_cjk_tokenizer

TRAIN = [
    {"text": "我在北京工作", "label": {"address": {"北京": [[2, 3]]}}},
    {"text": "Google公司在北京", "label": {
        "company": {"Google公司": [[0, 7]]}, "address": {"北京": [[9, 10]]}}},
]
DEV = [{"text": "我在google😀上班，", "label": {
    "company": {"google": [[2, 7]]}}}]


def test_cluener_layout_chinese_vocabulary(tmp_path, capsys):
    preset = tmp_path / "zh_bert"  # a local BERT folder, Chinese vocabulary
    tiny_cjk_backbone().save_to_preset(str(preset))
    tiny_cjk_tokenizer().save_to_preset(str(preset))
    data = tmp_path / "cluener2020"
    data.mkdir()
    for name, records in (("train.json", TRAIN * 4), ("dev.json", DEV)):
        (data / name).write_text("\n".join(
            json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    run_dir = train_ner.main([
        "--dataset", "cluener2020", "--data-dir", str(data),
        "--backbone", str(preset), "--epochs", "1", "--batch-size", "4",
        "--max-length", "8", "--output-dir", str(tmp_path / "runs"),
        "--run-name", "zh", "--export-dir", str(tmp_path / "sm")])
    out = capsys.readouterr().out
    assert "validation: entity-level, seqeval strict IOB2" in out
    labels = json.loads((run_dir / "labels.json").read_text())
    assert len(labels) == 21  # all 10 CLUENER types, not only the 2 seen
    report = json.loads((run_dir / "data_report.json").read_text())
    # dev words: 我 在 google 😀 上 班 ，: 上 and 班 are not in the
    # vocabulary, 😀 neither.
    dev = report["unknown_tokens"]["validation"]
    assert (dev["words"], dev["unknown_words"]) == (7, 3)
    assert (dev["cjk_characters"], dev["unknown_cjk_characters"]) == (4, 2)
    # Half the dev CJK characters are unknown: the report names the
    # Chinese-capable encoder's command.
    assert "50.0% of the CJK characters" in report["advice"]
    assert "--backbone multilingual-e5-small" in report["advice"]
    assert "WARNING: 50.0% of the CJK characters" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dataset"] == "cluener2020"
    assert summary["unknown_subtoken_rate"]["validation"] == 3 / 7
    export = tmp_path / "sm" / "1"
    assert (export / "assets" / "word_splitter.txt").read_text() == (
        "cjk_chars\n")
    text = "我在Google北京😀工作"
    [result] = NerPredictor(export)([text])
    assert result["words"] == ["我", "在", "Google", "北", "京", "😀", "工",
                               "作"]
    for entity in result["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]


def test_dataset_flag_errors():
    with pytest.raises(SystemExit, match="expected one of"):
        train_ner.main(["--dataset", "msra"])
    with pytest.raises(SystemExit, match="needs --train-file"):
        train_ner.main(["--dataset", "char_bio"])


def test_lexicon_features_crf_run_and_export(tmp_path):
    """--lexicon-features: trained, saved and served with the same classes."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfllm.evaluation.ner_evaluator import predict_tags
    from tfllm.preprocessing.word_splitter import split_words

    data = tmp_path / "cluener2020"
    data.mkdir()
    for name, records in (("train.json", TRAIN * 2), ("dev.json", DEV)):
        (data / name).write_text("\n".join(
            json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("北京\n工作\n公司 9\n我\n", encoding="utf-8")
    preset = tmp_path / "zh_bert"
    tiny_cjk_backbone().save_to_preset(str(preset))
    tiny_cjk_tokenizer().save_to_preset(str(preset))
    run_dir = train_ner.main([
        "--dataset", "cluener2020", "--data-dir", str(data),
        "--backbone", str(preset), "--epochs", "1", "--batch-size", "4",
        "--max-length", "8", "--head", "crf",
        "--lexicon-features", str(lexicon),
        "--output-dir", str(tmp_path / "runs"), "--run-name", "lex",
        "--export-dir", str(tmp_path / "sm")])
    for name in ("config.json", "summary.json"):
        recorded = json.loads((run_dir / name).read_text())
        assert recorded["lexicon_features"] == str(lexicon)
    lexicon.unlink()  # the model and the export carry the words
    model = keras.models.load_model(run_dir / "model.keras")
    assert model.head == "crf" and model.lexicon_features
    texts = ["我在北京的公司工作", "Google公司在北京工作了15年，我😀", "京"]
    words = split_words(tf.constant(texts), "cjk_chars")[0].to_list()
    words = [[w.decode() for w in sentence] for sentence in words]
    ragged = tf.ragged.constant(words, row_splits_dtype=tf.int64)
    # The lexicon classes change the logits, so equal scores below mean
    # the served graph computed the same classes.
    inputs = model.model_inputs(model.preprocessor(ragged))
    assert inputs["lexicon_ids"].numpy().max() > 2
    plain = dict(inputs, lexicon_ids=tf.minimum(inputs["lexicon_ids"], 1))
    assert np.abs(model(inputs) - model(plain)).max() > 1e-4
    serve = tf.saved_model.load(str(tmp_path / "sm" / "1")).signatures[
        "serving_default"]
    out = serve(text=tf.constant(texts))
    lengths = out["num_words"].numpy().tolist()
    assert lengths == [len(w) for w in words]
    tags = [[t.decode() for t in row[:n]]
            for row, n in zip(out["tags"].numpy(), lengths)]
    assert tags == predict_tags(model, words)
    logits = model.predict_word_logits(ragged)
    for row, n, sentence_tags, sentence_logits in zip(
            out["scores"].numpy(), lengths, tags, logits.to_list()):
        probabilities = tf.nn.softmax(sentence_logits, axis=-1).numpy()
        expected = [p[model.id2label.index(t)]
                    for p, t in zip(probabilities, sentence_tags)]
        np.testing.assert_allclose(row[:n], expected, atol=1e-5)


def test_lexicon_flag_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("北京 often\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:1: the frequency"):
        train_ner.main(["--dataset", "cluener2020", "--lexicon-features",
                        str(bad), "--data-dir", str(tmp_path)])
