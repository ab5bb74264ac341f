"""`robustness_check(noises=["adversarial"])`: the score under one-step FGM
on the word embeddings, chunk by chunk (issue 29)."""

import numpy as np
import pytest
import tensorflow as tf

from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B

from tfllm.evaluation import ner_evaluator
from tfllm.evaluation.adversarial_robustness import FgmAttack
from tfllm.evaluation.robustness import robustness_check
from tfllm.training.adversarial import token_embedding_variable

NER_DATA = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)]


def hand_fgm(model, words, tags, epsilon):
    """`epsilon * g / ||g||_2` for one sentence, by hand (numpy norm)."""
    from tfllm.data.pipeline import encode_token_classification

    label2id = {t: i for i, t in enumerate(model.id2label)}
    encoded = encode_token_classification(
        model.preprocessor, [words], [[label2id[t] for t in tags]])
    x = {k: v.to_tensor() for k, v in encoded.features.items()}
    loss = model.training_loss("sum_over_batch_size")
    matrix = token_embedding_variable(model).value
    with tf.GradientTape() as tape:
        tape.watch(matrix)
        value = loss(encoded.labels.to_tensor(), model(x),
                     sample_weight=encoded.sample_weight.to_tensor())
    g = tf.convert_to_tensor(tape.gradient(value, matrix)).numpy()
    return epsilon * g / np.linalg.norm(g)


def test_ner_predictions_are_made_on_the_fgm_matrix(monkeypatch):
    from tiny import tiny_token_classifier

    model = tiny_token_classifier(sequence_length=24)
    embedding = token_embedding_variable(model)
    before = np.array(embedding.numpy())
    expected = [hand_fgm(model, SENTENCE_A, TAGS_A, 0.5),
                hand_fgm(model, SENTENCE_B, TAGS_B, 0.5)]
    seen, predict_tags = [], ner_evaluator.predict_tags

    def spy(model, sentences, batch_size=64):
        seen.append((sentences, np.array(embedding.numpy())))
        return predict_tags(model, sentences, batch_size)

    monkeypatch.setattr(ner_evaluator, "predict_tags", spy)
    result = robustness_check(model, NER_DATA, ["adversarial"], options={
        "adversarial": {"epsilon": 0.5, "batch_size": 1}})
    # Two chunks of one sentence; each predicted on its own perturbation.
    assert [s for s, _ in seen[-2:]] == [[SENTENCE_A], [SENTENCE_B]]
    for (_, matrix), delta in zip(seen[-2:], expected):
        np.testing.assert_allclose(matrix - before, delta, atol=1e-6)
        assert np.linalg.norm(matrix - before) == pytest.approx(0.5, 1e-4)
    assert not np.allclose(expected[0], expected[1])
    row = result["noise"]["adversarial"]
    assert (row["eligible"], row["changed"]) == (2, 2)
    assert embedding.numpy().tobytes() == before.tobytes()  # bit for bit


def test_classifier_tiny_epsilon_is_clean_and_fgm_lowers_accuracy():
    from tiny import tiny_text_classifier

    from tfllm.data.text_files import TextExample

    model = tiny_text_classifier()
    data = [TextExample(t, g) for t, g in zip(CLS_TEXTS, CLS_GOLD)]
    before = token_embedding_variable(model).numpy().tobytes()
    tiny = robustness_check(model, data, ["adversarial"], options={
        "adversarial": {"epsilon": 1e-6, "batch_size": 3}})
    assert tiny["noise"]["adversarial"]["scores"] == tiny["clean"]
    assert tiny["clean"]["accuracy"] == 0.5  # 4 of 8, the random model
    assert tiny["noise"]["adversarial"]["eligible"] == 3  # 3 + 3 + 2
    attacked = robustness_check(model, data, ["adversarial"])
    # Default epsilon 1.0, one chunk of 8: 2 of 8 right instead of 4
    # (measured); unperturbed predictions would score the clean 4 of 8.
    row = attacked["noise"]["adversarial"]
    assert row["eligible"] == row["changed"] == 1
    assert row["scores"]["accuracy"] == 0.25
    assert row["drop"]["accuracy"] == 0.25
    assert token_embedding_variable(model).numpy().tobytes() == before


def test_a_model_blind_to_its_embeddings_is_not_perturbed():
    from tiny import casing_rule_classifier

    # The rule model tags by casing class only (its encoder's kernel rows
    # are 0), so the gradient on the embeddings is 0: no chunk changes.
    model = casing_rule_classifier()
    data = [(["Google", "15"], ["B-ORG", "B-LOC"]),
            (["在", "Google", "."], ["O", "B-ORG", "O"])]
    result = robustness_check(model, data, ["adversarial"], options={
        "adversarial": {"epsilon": 100.0, "batch_size": 1}})
    row = result["noise"]["adversarial"]
    assert (row["eligible"], row["changed"]) == (2, 0)
    assert result["clean"]["entity_f1"] > 0
    assert row["scores"] == result["clean"]


def test_bad_options():
    with pytest.raises(ValueError, match="epsilon must be > 0, got 0"):
        FgmAttack(epsilon=0)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        FgmAttack(batch_size=0)
    with pytest.raises(ValueError, match=r"options for \['adversarial'\]"):
        robustness_check(None, NER_DATA, ["typo"],
                         options={"adversarial": {"epsilon": 1.0}})
