import numpy as np
import pytest

from tfllm.prompting.calibration import calibrate
from tfllm.prompting.calibration import content_free_probabilities
from tfllm.prompting.calibration import label_probabilities


def test_calibration_equals_the_formula():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    p_cf = np.array([0.6, 0.3, 0.1])
    q = calibrate(p, p_cf)
    manual = np.array([[0.5 / 0.6, 0.3 / 0.3, 0.2 / 0.1],
                       [0.1 / 0.6, 0.6 / 0.3, 0.3 / 0.1]])
    np.testing.assert_allclose(q, manual / manual.sum(1, keepdims=True))
    np.testing.assert_allclose(q.sum(1), 1.0)


def test_calibration_flips_a_decision_biased_towards_one_label():
    # The prompt favours label 0: content-free inputs get 0.8 on it, so a
    # text at 0.7 on label 0 is below the prompt's baseline: label 1.
    p_cf = content_free_probabilities(np.array([[0.85, 0.15], [0.75, 0.25]]))
    np.testing.assert_allclose(p_cf, [0.8, 0.2])
    biased = np.array([[0.7, 0.3], [0.95, 0.05]])
    assert biased.argmax(1).tolist() == [0, 0]
    assert calibrate(biased, p_cf).argmax(1).tolist() == [1, 0]


def test_label_probabilities_are_a_softmax_of_log_scores():
    scores = np.log([[2.0, 6.0]])
    np.testing.assert_allclose(label_probabilities(scores), [[0.25, 0.75]])


def test_bad_p_cf():
    with pytest.raises(ValueError, match="positive"):
        calibrate([[0.5, 0.5]], [1.0, 0.0])
    with pytest.raises(ValueError, match="labels"):
        calibrate([[0.5, 0.5]], [0.3, 0.3, 0.4])
