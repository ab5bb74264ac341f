import numpy as np

from tfllm.data.text_files import TextExample
from tfllm.evaluation.classification_evaluator import evaluate_classifier
from tfllm.evaluation.classification_evaluator import predict_probabilities
from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import tiny_text_classifier


def test_probabilities_in_input_order_whatever_the_batching():
    model = tiny_text_classifier(seed=1)
    whole = predict_probabilities(model, CLS_TEXTS, batch_size=64)
    small = predict_probabilities(model, CLS_TEXTS, batch_size=3)
    np.testing.assert_allclose(whole, small, atol=1e-5)
    np.testing.assert_allclose(whole.sum(-1), 1.0, atol=1e-5)
    single = predict_probabilities(model, CLS_TEXTS[5:6])
    np.testing.assert_allclose(whole[5:6], single, atol=1e-5)


def test_evaluate_reports_scores_and_predictions():
    model = tiny_text_classifier(seed=1)
    examples = [TextExample(t, g) for t, g in zip(CLS_TEXTS, CLS_GOLD)]
    result = evaluate_classifier(model, examples)
    assert result["num_examples"] == 8
    assert len(result["predicted"]) == 8
    assert result["gold"] == CLS_GOLD
    accuracy = np.mean([p == g for p, g in zip(result["predicted"],
                                               CLS_GOLD)])
    assert result["accuracy"] == accuracy
    multi = tiny_text_classifier(labels=["negative", "positive"],
                                 multi_label=True)
    examples = [TextExample(t, [g]) for t, g in zip(CLS_TEXTS, CLS_GOLD)]
    result = evaluate_classifier(multi, examples)
    assert "micro_f1" in result and isinstance(result["predicted"][0], list)
