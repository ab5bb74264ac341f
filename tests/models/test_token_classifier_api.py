"""TokenClassifier's high-level API on Python lists and files (no training
here: tests/runs/test_ner.py trains through it)."""

import json

import pytest

from tfllm.data.conll import TaggedSentence
from tfllm.models.token_classifier_api import read_sentences
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B
from tiny import tiny_token_classifier
from tiny import write_conll


def test_read_sentences_takes_every_input_form(tmp_path):
    pairs = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)]
    expected = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)]

    def as_pairs(sentences):
        return [(s.words, s.tags) for s in sentences]

    assert as_pairs(read_sentences(pairs)) == expected
    assert as_pairs(read_sentences([SENTENCE_A, SENTENCE_B],
                                   [TAGS_A, TAGS_B])) == expected
    tagged = [TaggedSentence(SENTENCE_B, TAGS_B, "x.txt", 3)]
    assert read_sentences(tagged) == tagged
    conll = write_conll(tmp_path / "train.txt", pairs)
    for path in (conll, str(conll)):
        assert as_pairs(read_sentences(path)) == expected
    # CLUENER JSON lines and character-per-line BIO are recognised.
    cluener = tmp_path / "train.json"
    cluener.write_text(json.dumps(
        {"text": "浙商银行", "label": {"company": {"浙商银行": [[0, 3]]}}},
        ensure_ascii=False) + "\n", encoding="utf-8")
    assert as_pairs(read_sentences(cluener)) == [
        (["浙", "商", "银", "行"],
         ["B-company", "I-company", "I-company", "I-company"])]
    char_bio = tmp_path / "train.bio"
    char_bio.write_text("张 B-PER\n三 I-PER\n去 O\n\n", encoding="utf-8")
    assert as_pairs(read_sentences(char_bio)) == [
        (["张", "三", "去"], ["B-PER", "I-PER", "O"])]


def test_read_sentences_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.txt: no such file"):
        read_sentences(str(tmp_path / "nope.txt"))
    with pytest.raises(ValueError, match="sentence 2 has 4 words but 3"):
        read_sentences([(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B[:3])])
    with pytest.raises(ValueError, match="2 word lists but 1 tag lists"):
        read_sentences([SENTENCE_A, SENTENCE_B], [TAGS_A])
    with pytest.raises(ValueError, match="word lists need their tags"):
        read_sentences([SENTENCE_A, SENTENCE_B])


def test_fit_rejects_unknown_labels_and_settings():
    model = tiny_token_classifier(sequence_length=8)
    with pytest.raises(ValueError, match=(
            r"<training data> sentence 2: unknown label 'B-MISC'")):
        model.fit([(SENTENCE_B, TAGS_B), (["EU"], ["B-MISC"])], epochs=1)
    with pytest.raises(ValueError, match=(
            r"<validation data> sentence 1: unknown label 'B-MISC'")):
        model.fit([(SENTENCE_B, TAGS_B)], validation_data=[(["EU"],
                                                            ["B-MISC"])])
    with pytest.raises(TypeError, match=r"unknown training settings "
                                        r"\['learning_rat'\]"):
        model.fit([(SENTENCE_B, TAGS_B)], learning_rat=1e-3)


def test_predict_and_evaluate_agree_on_texts_and_word_lists():
    model = tiny_token_classifier(sequence_length=8)
    words = [SENTENCE_A, SENTENCE_B]
    tags = model.predict(words)
    assert [len(t) for t in tags] == [len(SENTENCE_A), len(SENTENCE_B)]
    assert all(t in model.id2label for row in tags for t in row)
    one = model.predict(" ".join(SENTENCE_B))
    assert one["words"] == SENTENCE_B and one["tags"] == tags[1]
    for entity in one["entities"]:  # character offsets into the text
        assert " ".join(SENTENCE_B)[entity["start"]:entity["end"]] == \
            entity["text"]
    many = model.predict([" ".join(w) for w in words])
    assert [r["tags"] for r in many] == tags
    report = model.evaluate(words, [TAGS_A, TAGS_B])
    assert report["predictions"] == tags
    assert 0.0 <= report["f1"] <= 1.0


def test_export_refuses_unknown_formats_and_uncalibrated_int8(tmp_path):
    model = tiny_token_classifier(sequence_length=8)
    with pytest.raises(ValueError, match="'saved_model' or 'litert': 'onnx'"):
        model.export(tmp_path / "x", format="onnx")
    with pytest.raises(ValueError, match=r"\['int8'\] need calibration_data"):
        model.export(tmp_path / "x", format="litert", flavours=["int8"])
    assert not (tmp_path / "x").exists()


def test_fit_run_dir_is_loadable_and_a_finished_run_is_not_retrained(
        tmp_path, capsys):
    """A new user's notebook: `fit(run_dir=...)` then `load(run_dir)` failed
    (no model.keras), and re-running the fit cell on a new model silently
    took the finished run's weights and trained nothing."""
    import numpy as np

    from tfllm.models.token_classifier import TokenClassifier

    sentences = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)]
    run_dir = tmp_path / "notebook"
    model = tiny_token_classifier(sequence_length=8)
    model.fit(sentences, epochs=1, batch_size=2, run_dir=run_dir,
              learning_rate=1e-3)
    loaded = TokenClassifier.load(run_dir)
    assert loaded.predict([SENTENCE_A, SENTENCE_B]) == \
        model.predict([SENTENCE_A, SENTENCE_B])
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)

    again = tiny_token_classifier(sequence_length=8)
    capsys.readouterr()
    history = again.fit(sentences, epochs=1, batch_size=2, run_dir=run_dir,
                        learning_rate=1e-3)
    assert "already holds a finished run (2 of 2 optimizer updates)" in \
        capsys.readouterr().err
    assert len(history) == 0  # no epoch ran
