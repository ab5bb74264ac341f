"""The score under a one-step FGM attack on the word embeddings.

`FgmAttack` is the `adversarial` kind of `robustness_check`
(`tfllm.evaluation.robustness`): instead of editing the text, it moves the
backbone's word-embedding matrix by the fast gradient method (Miyato, Dai,
Goodfellow 2017, "Adversarial Training Methods for Semi-Supervised Text
Classification"), the attack that `--adversarial fgm` trains against, so
the scores before and after adversarial training can be compared.

The evaluation data is cut into chunks of `batch_size` examples (default
32, a training batch: FGM's `epsilon` is the L2 norm of one batch's
perturbation). For each chunk:

1. it is encoded with its gold labels as training encodes it
   (`tfllm.data.pipeline`; NER sentences become sub-token windows) and
   padded into one batch;
2. `g`, the gradient of the model's loss (the training loss of the head
   for NER: cross-entropy, CRF likelihood or GlobalPointer; cross-entropy
   for a classifier) with respect to the embedding matrix, is computed
   without dropout, and `r = epsilon * g / ||g||_2` (`fgm_perturbation`)
   is added to the matrix;
3. the chunk is predicted by the model's normal evaluation path (the one
   `model.evaluate` uses: Viterbi for a CRF, span decoding, windows), so
   decoding is the same as on clean data;
4. the matrix is restored bit for bit (`shifted_embedding`, also when
   prediction fails).

All predictions are then scored together, by the functions
`model.evaluate` uses (`ner_report`: seqeval strict IOB2 entity F1;
`classifier_report`: accuracy and macro-F1). In the report, `eligible`
counts the chunks and `changed` the chunks that were perturbed (a chunk
whose gradient is zero or not finite is predicted unperturbed).

Cost: per chunk, one forward and backward pass on the encoded batch plus
the prediction pass: about 3x a clean evaluation.
"""

import numpy as np
import tensorflow as tf

from tfllm.evaluation.robustness import NoiseStats
from tfllm.evaluation.robustness import Perturbation


class FgmAttack(Perturbation):
    """One-step FGM on the word embeddings, per chunk (module doc).

    Args:
        rate: float. Accepted for the registry's `factory(rate=...)` and
            unused: every chunk is attacked.
        epsilon: float > 0. L2 norm of each chunk's perturbation of the
            embedding matrix. Default 1.0, the default of
            `--adversarial-epsilon` in training.
        batch_size: int >= 1. Examples (sentences or texts) per chunk.
            Default 32.

    Raises:
        ValueError: `epsilon` not positive, `batch_size` below 1, or
            `rate` outside `[0, 1]`.
    """

    name = "adversarial"

    def __init__(self, rate=0.1, epsilon=1.0, batch_size=32):
        super().__init__(rate)
        if not epsilon > 0:
            raise ValueError(f"adversarial epsilon must be > 0, got "
                             f"{epsilon}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"adversarial batch_size must be an int >= 1, "
                             f"got {batch_size}")
        self.epsilon = float(epsilon)
        self.batch_size = int(batch_size)

    def evaluate(self, model, task, data, seed):
        """Scores `model` under the attack; `seed` is unused (no noise).

        Args:
            model: a `TokenClassifier` or `TextClassifier` with a KerasHub
                backbone and a preprocessor.
            task: `NerTask` or `ClassificationTask`.
            data: list of `TaggedSentence` or `TextExample`.
            seed: int, unused.

        Returns:
            `(scores, stats)`: the task's metric dict and a `NoiseStats`
            of chunks (`eligible`) and perturbed chunks (`changed`).

        Raises:
            ValueError: the backbone has no token embedding.
        """
        from tfllm.evaluation.robustness import NerTask
        from tfllm.training.adversarial import embedding_gradient
        from tfllm.training.adversarial import fgm_perturbation
        from tfllm.training.adversarial import shifted_embedding

        adapter = _Ner if task is NerTask else _Classification
        stats, predictions = NoiseStats(), []
        for start in range(0, len(data), self.batch_size):
            chunk = data[start:start + self.batch_size]
            x, y, weight = adapter.batch(model, chunk)
            delta = fgm_perturbation(
                embedding_gradient(model, x, y, weight), self.epsilon)
            stats.eligible += 1
            stats.changed += int(bool(tf.reduce_any(delta != 0)))
            with shifted_embedding(model, delta):
                predictions.append(adapter.predict(model, chunk))
        return adapter.score(model, data, predictions), stats


def _padded(tensor, value=0):
    return tensor.to_tensor(value) if hasattr(tensor, "to_tensor") else tensor


class _Ner:
    @staticmethod
    def batch(model, sentences):
        from tfllm.data.conll import encode_tags
        from tfllm.data.pipeline import encode_token_classification

        encoded = encode_token_classification(
            model.preprocessor, [s.words for s in sentences],
            encode_tags(sentences, model.id2label))
        x = {k: _padded(v) for k, v in encoded.features.items()}
        return x, _padded(encoded.labels), _padded(encoded.sample_weight, 0.0)

    @staticmethod
    def predict(model, sentences):
        from tfllm.evaluation import ner_evaluator

        return ner_evaluator.predict_tags(
            model, [s.words for s in sentences], len(sentences))

    @staticmethod
    def score(model, sentences, predictions):
        from tfllm.evaluation.ner_evaluator import ner_report

        predicted = [tags for chunk in predictions for tags in chunk]
        report = ner_report([s.tags for s in sentences], predicted,
                            model.id2label)
        return {"entity_f1": float(report["f1"])}


class _Classification:
    @staticmethod
    def batch(model, examples):
        from tfllm.data.labels import label_ids
        from tfllm.data.pipeline import encode_text_classification

        pairs = ([e.text_pair for e in examples] if model.text_pairs
                 else None)
        encoded = encode_text_classification(
            model.preprocessor, [e.text for e in examples],
            label_ids(examples, model.id2label, model.multi_label), pairs)
        x = {k: _padded(v) for k, v in encoded.features.items()}
        return x, encoded.labels, None

    @staticmethod
    def predict(model, examples):
        from tfllm.evaluation import classification_evaluator

        pairs = ([e.text_pair for e in examples] if model.text_pairs
                 else None)
        return classification_evaluator.predict_probabilities(
            model, [e.text for e in examples], pairs, len(examples))

    @staticmethod
    def score(model, examples, predictions):
        from tfllm.evaluation.classification_evaluator import (
            classifier_report)

        report = classifier_report(model, examples,
                                   np.concatenate(predictions, axis=0))
        return {k: float(report[k]) for k in ("accuracy", "macro_f1")}
