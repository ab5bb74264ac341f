"""Knowledge distillation: the loss, the student, the CLI on tiny runs."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.training.distillation import DistillationLoss
from tfllm.training.distillation import pack_targets
from tfllm.training.distillation import student_from_teacher
from tfllm.training.distillation import student_layer_indices
from tfllm.training.distillation import teacher_logits
from tiny import tiny_text_classifier
from tiny import tiny_token_classifier


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_loss_matches_hinton_formula():
    rng = np.random.default_rng(0)
    student = rng.normal(size=(2, 3, 5)).astype(np.float32)
    teacher = rng.normal(size=(2, 3, 5)).astype(np.float32) * 3
    hard = rng.integers(0, 5, (2, 3))
    weights = np.array([[1, 1, 0], [1, 0, 0]], np.float32) / 3
    y_true = pack_targets(tf.constant(hard, tf.int32), tf.constant(teacher))
    loss = DistillationLoss(temperature=2.0, alpha=0.7)
    got = float(loss(y_true, student, weights))

    t = 2.0
    p = np.exp(_log_softmax(teacher / t))
    kl = (p * (_log_softmax(teacher / t) - _log_softmax(student / t))).sum(-1)
    ce = -np.take_along_axis(_log_softmax(student), hard[..., None], -1)[
        ..., 0]
    expected = ((0.7 * t * t * kl + 0.3 * ce) * weights).sum()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_loss_edges():
    logits = tf.constant([[2.0, -1.0, 0.5]])
    y_true = pack_targets(tf.constant([1]), logits)
    # The student equal to the teacher: KL is 0, only the hard part stays.
    hard = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")(tf.constant([1]), logits)
    assert float(DistillationLoss(alpha=1.0)(y_true, logits)) == \
        pytest.approx(0.0, abs=1e-6)
    assert float(DistillationLoss(alpha=0.0)(y_true, logits)) == \
        pytest.approx(float(hard), rel=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        DistillationLoss(temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(alpha=1.5)
    config = DistillationLoss(3.0, 0.25).get_config()
    again = DistillationLoss.from_config(config)
    assert (again.temperature, again.alpha, again.reduction) == (
        3.0, 0.25, "sum")


def test_student_layer_indices():
    assert student_layer_indices(6, 3) == [1, 3, 5]
    assert student_layer_indices(6, 2) == [2, 5]
    assert student_layer_indices(12, 6) == [1, 3, 5, 7, 9, 11]
    assert student_layer_indices(4, 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="student_layers"):
        student_layer_indices(6, 7)


def test_student_copies_teacher_weights():
    teacher = tiny_token_classifier()  # 2 layers
    same = student_from_teacher(teacher, 2)
    inputs = {"token_ids": np.array([[2, 8, 9, 13, 3]], np.int32),
              "padding_mask": np.ones((1, 5), np.int32),
              "segment_ids": np.zeros((1, 5), np.int32),
              "casing_ids": np.array([[0, 2, 1, 1, 0]], np.int32)}
    np.testing.assert_allclose(same(inputs), teacher(inputs), atol=1e-6)
    student = student_from_teacher(teacher, 1)
    assert len(student.backbone.transformer_layers) == 1
    for a, b in zip(student.backbone.transformer_layers[0].get_weights(),
                    teacher.backbone.transformer_layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        student.classifier_head.get_weights()[0],
        teacher.classifier_head.get_weights()[0])
    assert student.preprocessor is teacher.preprocessor
    assert student(inputs).shape == (1, 5, 7)


def test_student_copies_the_lexicon_embedding(tmp_path):
    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.preprocessing.token_classification_preprocessor import (
        TokenClassificationPreprocessor,
    )
    from tiny import NER_LABELS
    from tiny import tiny_backbone
    from tiny import tiny_tokenizer

    (tmp_path / "words.txt").write_text("北京\n", encoding="utf-8")
    teacher = TokenClassifier(
        tiny_backbone(), NER_LABELS, lexicon_features=True,
        preprocessor=TokenClassificationPreprocessor(
            tiny_tokenizer(), 16, lexicon_features=tmp_path / "words.txt"))
    student = student_from_teacher(teacher, 1)
    np.testing.assert_array_equal(
        student.lexicon_embedding.get_weights()[0],
        teacher.lexicon_embedding.get_weights()[0])


def test_teacher_logits_ragged_and_dense():
    teacher = tiny_token_classifier()
    ids = tf.ragged.constant([[2, 8, 3], [2, 9, 10, 11, 3]], tf.int32)
    features = {"token_ids": ids, "padding_mask": tf.ones_like(ids),
                "segment_ids": tf.zeros_like(ids),
                "casing_ids": tf.zeros_like(ids)}
    logits = teacher_logits(teacher, features, batch_size=1)
    assert logits.row_lengths().numpy().tolist() == [3, 5]
    np.testing.assert_allclose(
        logits[1].numpy(),
        teacher({k: v[1:].to_tensor() for k, v in features.items()})[0],
        atol=1e-5)
    classifier = tiny_text_classifier()
    ids = tf.ragged.constant([[2, 5, 3], [2, 6, 7, 3]], tf.int32)
    dense = teacher_logits(classifier, {
        "token_ids": ids, "padding_mask": tf.ones_like(ids),
        "segment_ids": tf.zeros_like(ids)})
    assert dense.shape == (2, 2)


@pytest.fixture
def conll_dir(tmp_path):
    from tiny import SENTENCE_A
    from tiny import SENTENCE_B
    from tiny import write_conll

    folder = tmp_path / "conll2003"
    folder.mkdir()
    train = [(SENTENCE_B, ["I-PER", "O", "I-LOC", "O"]),
             (["Lyon", "."], ["I-LOC", "O"]),
             (["Anna", "Kowalski", "hires", "."],
              ["I-PER", "I-PER", "O", "O"]),
             (SENTENCE_A, ["O"] * 4 + ["I-ORG"] + ["O"] * 4 + ["I-LOC", "O",
                                                               "I-LOC", "O",
                                                               "O"])]
    write_conll(folder / "train.txt", train * 4)
    write_conll(folder / "valid.txt", [(SENTENCE_B,
                                        ["B-PER", "O", "B-LOC", "O"])])
    return folder


def test_distill_cli_ner(tiny_preset, conll_dir, tmp_path):
    from tfllm.cli import distill
    from tfllm.cli import train_ner

    teacher_dir = train_ner.main([
        "--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
        "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3",
        "--max-length", "8", "--head", "softmax",  # distills logits
        "--output-dir", str(tmp_path / "runs"),
        "--run-name", "teacher", "--no-export"])
    run_dir = distill.main([
        "--teacher-run", str(teacher_dir), "--student-layers", "1",
        "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3",
        "--output-dir", str(tmp_path / "runs"), "--run-name", "student",
        "--latency-samples", "3"])
    summary = json.loads((run_dir / "distillation.json").read_text())
    assert summary["teacher"]["layers"] == 2
    assert summary["student"]["layers"] == 1
    assert summary["student"]["parameters"] < summary["teacher"]["parameters"]
    assert 0.0 <= summary["student"]["score"] <= 1.0
    assert summary["speedup_p50"] > 0
    # 16 sentences; sentence A needs 3 windows of 8 sub-tokens: 4 x 6.
    assert summary["training_sequences"] == 24
    from tfllm.models.task import load_task_model
    from tfllm.models.token_classifier import TokenClassifier

    student = load_task_model(run_dir, TokenClassifier)
    assert len(student.backbone.transformer_layers) == 1
    # `scripts/export.py --run-dir` takes a student folder like any run:
    # its own model, its teacher's data.
    from tfllm.cli.export import load_run_data

    model, data = load_run_data(run_dir)
    assert isinstance(model, TokenClassifier)
    assert len(model.backbone.transformer_layers) == 1
    assert len(data["validation"]) == 1 and len(data["train"]) == 16


def test_distill_refuses_a_crf_teacher_with_one_line(tiny_preset, conll_dir,
                                                     tmp_path, capsys):
    """A CRF teacher (train ner's default head) has no per-token softmax to
    match: the command ends with one `error:` line, before any training."""
    from tfllm.cli import distill
    from tfllm.cli import train_ner
    from tfllm.cli.args import run_cli

    teacher_dir = train_ner.main([
        "--backbone", str(tiny_preset), "--data-dir", str(conll_dir),
        "--epochs", "1", "--batch-size", "4", "--max-length", "8",
        "--max-train-examples", "4", "--output-dir", str(tmp_path / "runs"),
        "--run-name", "crf-teacher", "--no-export"])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: distill.main([
            "--teacher-run", str(teacher_dir), "--epochs", "1",
            "--output-dir", str(tmp_path / "runs"), "--run-name", "s"]))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: --teacher-run ")
    assert "--head softmax" in error
    assert not (tmp_path / "runs" / "s").exists()
