"""Ensembles of trained NER or text-classification models: one model to
score, predict with and export, whose outputs are the mean of its members'.

- Softmax classification: the mean of the members' probabilities
  (multi-label: of their sigmoids). `predict_logits` returns
  `log(mean probability)` (multi-label: its logit, `log(p / (1 - p))`), so
  the exporter's softmax (sigmoid) of it gives the mean back exactly and
  the SavedModel's `logits` output holds those log-probabilities.
- NER, softmax head: the mean of the members' per-word probabilities;
  `predict_word_logits` returns their log, tags are its argmax.
- NER, CRF head: the mean of the members' emission scores (the logits
  before the CRF) and the mean of their transition, start and end scores;
  tags are the Viterbi path under those means. Averaging the scores, not
  the decoded paths, keeps the result one valid IOB2 path, and the mean of
  linear-chain CRFs over the same labels is again such a CRF (the
  log-linear score is linear in both). The `scores` output is then the
  softmax of the mean emissions at the Viterbi tag, as for one CRF model.

The ensemble keeps its members' interfaces (`predict_word_logits`,
`decode_word_logits`, `predict_word_labels`; `predict_logits`,
`probabilities`, `decide`), so `tfllm.export.ner_serving.export_ner` and
`tfllm.export.classifier_serving.export_classifier` export it unchanged:
the SavedModel has the same raw-text `serving_default` signature and
outputs as one member's. Inference costs k forward passes.

Members must share labels, head (NER), word splitter, multi-label and
text-pair settings; each keeps its own tokenizer and window length.

References:
    Dietterich (2000), "Ensemble Methods in Machine Learning".
    Lakshminarayanan, Pritzel, Blundell (2017), "Simple and Scalable
    Predictive Uncertainty Estimation using Deep Ensembles" (the average of
    members' probabilities).
"""

import contextlib
import pathlib

import keras
import tensorflow as tf

# Smallest probability put through a log (keeps log(0) finite).
_TINY = 1e-30


def _check_same(members, name, value):
    values = [value(m) for m in members]
    if any(v != values[0] for v in values[1:]):
        raise ValueError(f"ensemble members differ in {name}: {values}")
    return values[0]


class _Ensemble(keras.layers.Layer):
    """What both ensembles share: members, labels, preprocessor, export."""

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got "
                             f"{len(members)}")
        for member in members:
            if getattr(member, "preprocessor", None) is None:
                raise ValueError("every ensemble member needs a "
                                 "preprocessor (a model from "
                                 "from_pretrained or load)")
        self.members = members
        self.id2label = list(_check_same(
            members, "labels", lambda m: list(m.id2label)))
        _check_same(members, "word splitter", lambda m: getattr(
            m.preprocessor, "word_splitter", "whitespace"))
        # Labels, vocabulary and word splitter written with the export.
        self.preprocessor = members[0].preprocessor
        self.built = True

    def _export(self, export, export_dir, model_name):
        from tfllm.peft.saving import merged_for_export

        with contextlib.ExitStack() as stack:
            for member in self.members:  # LoRA merged, as for one model
                stack.enter_context(merged_for_export(member))
            return pathlib.Path(export(self, export_dir,
                                       warmup_model_name=model_name))


class TokenClassifierEnsemble(_Ensemble):
    """The average of k `TokenClassifier`s (see the module docstring).

    Args:
        members: list of `TokenClassifier` (at least 2) with the same
            labels, head and word splitter.

    Raises:
        ValueError: fewer than 2 members, or members that differ.

    Examples:
    ```python
    members = [tfllm.TokenClassifier.load(f"runs/ner-{s}") for s in (1, 2)]
    ensemble = TokenClassifierEnsemble(members)
    ensemble.evaluate(data.validation)["f1"]
    ensemble.export("saved_models/ner")
    ```
    """

    def __init__(self, members, **kwargs):
        super().__init__(members, **kwargs)
        self.head = _check_same(self.members, "head",
                                lambda m: getattr(m, "head", "softmax"))
        self.crf = self.members[0].crf if self.head == "crf" else None

    def predict_word_logits(self, words):
        """Mean word scores of the members, in graph ops.

        Args:
            words: `tf.RaggedTensor` of `tf.string`, `[batch_size, (words)]`.

        Returns:
            float32 `tf.RaggedTensor` `[batch_size, (words), num_labels]`:
            the mean emission scores (CRF head) or the log of the mean
            probabilities (softmax head).
        """
        outputs = [m.predict_word_logits(words) for m in self.members]
        if self.crf is not None:
            values = [o.flat_values for o in outputs]
        else:
            values = [tf.nn.softmax(o.flat_values, axis=-1) for o in outputs]
        mean = tf.add_n(values) / float(len(values))
        if self.crf is None:
            mean = tf.math.log(tf.maximum(mean, _TINY))
        return outputs[0].with_flat_values(mean)

    def transition_scores(self):
        """The members' mean CRF `(transitions, start, end)` scores,
        float32 `[L, L]`, `[L]`, `[L]` (forbidden IOB2 moves keep their
        penalty: every member adds the same one)."""
        scores = [m.crf.constrained_transitions() for m in self.members]
        return tuple(tf.add_n(list(parts)) / float(len(scores))
                     for parts in zip(*scores))

    def decode_word_logits(self, word_logits):
        """Label ids from `predict_word_logits`: argmax (softmax head) or
        Viterbi under the mean transition scores (CRF head).

        Returns:
            int32 `tf.RaggedTensor` `[batch_size, (words)]`.
        """
        from tfllm.layers.crf import viterbi_decode

        if self.crf is None:
            return word_logits.with_flat_values(tf.argmax(
                word_logits.flat_values, axis=-1, output_type=tf.int32))
        padded = word_logits.to_tensor()  # [B, W, L]
        mask = tf.sequence_mask(word_logits.row_lengths(), tf.shape(padded)[1])
        tags, _ = viterbi_decode(padded, mask, *self.transition_scores())
        return word_logits.with_flat_values(tf.boolean_mask(tags, mask))

    def predict_word_labels(self, words):
        """`decode_word_logits(predict_word_logits(words))`."""
        return self.decode_word_logits(self.predict_word_logits(words))

    def evaluate(self, x, y=None, *, format=None, batch_size=None):
        """Scores sentences as `TokenClassifier.evaluate` does: `f1`
        (entity-level, seqeval strict IOB2), `entity_strict`,
        `entity_conlleval`, `token`, `predictions`."""
        from tfllm.evaluation.ner_evaluator import evaluate_ner
        from tfllm.models.token_classifier_api import read_sentences

        sentences = read_sentences(x, y, format, "evaluation data")
        return evaluate_ner(self, [s.words for s in sentences],
                            [s.tags for s in sentences], batch_size or 64)

    def export(self, export_dir="saved_models/ner", model_name=None):
        """Writes one raw-text TF Serving SavedModel version of the
        ensemble (`tfllm.export.ner_serving.export_ner`: same signature
        and outputs as one model's); returns its path."""
        from tfllm.export.ner_serving import export_ner

        return self._export(export_ner, export_dir, model_name)


class TextClassifierEnsemble(_Ensemble):
    """The average of k `TextClassifier`s (see the module docstring).

    Args:
        members: list of `TextClassifier` (at least 2) with the same
            labels, word splitter, `multi_label` and `text_pairs`.
        thresholds: list of float or None. Multi-label decision thresholds;
            None: the mean of the members' thresholds.

    Raises:
        ValueError: fewer than 2 members, or members that differ.
    """

    def __init__(self, members, thresholds=None, **kwargs):
        super().__init__(members, **kwargs)
        self.multi_label = _check_same(self.members, "multi_label",
                                       lambda m: bool(m.multi_label))
        self.text_pairs = _check_same(self.members, "text_pairs",
                                      lambda m: bool(m.text_pairs))
        if thresholds is None:
            thresholds = [sum(t) / len(t) for t in zip(
                *[m.thresholds for m in self.members])]
        self.thresholds = [float(t) for t in thresholds]

    def predict_logits(self, text, text_pair=None):
        """Scores whose softmax (multi-label: sigmoid) is the members' mean
        probability: float32 `[batch_size, num_labels]`.

        Args:
            text: `tf.string` `[batch_size]`.
            text_pair: `tf.string` `[batch_size]` or None.
        """
        mean = tf.add_n([m.probabilities(m.predict_logits(text, text_pair))
                         for m in self.members]) / float(len(self.members))
        if self.multi_label:
            mean = tf.clip_by_value(mean, 1e-7, 1.0 - 1e-7)
            return tf.math.log(mean) - tf.math.log1p(-mean)
        return tf.math.log(tf.maximum(mean, _TINY))

    def probabilities(self, logits):
        """Softmax (single-label) or sigmoid (multi-label) of `logits`."""
        if self.multi_label:
            return tf.sigmoid(logits)
        return tf.nn.softmax(logits, axis=-1)

    def decide(self, probabilities):
        """As `TextClassifier.decide`: bool `[batch, num_labels]`."""
        if self.multi_label:
            return probabilities >= tf.constant(self.thresholds, tf.float32)
        return tf.one_hot(tf.argmax(probabilities, axis=-1),
                          len(self.id2label), on_value=True, off_value=False)

    def evaluate(self, x, y=None, *, batch_size=None,
                 return_predictions=False):
        """Scores examples as `TextClassifier.evaluate` does (`accuracy`,
        `macro_f1`, `weighted_f1`, report, ...).

        Args:
            x: list of `TextExample`, `(text, label)` pairs, or texts with
                `y` their labels.
        """
        from tfllm.data.labels import check_labels
        from tfllm.evaluation.classification_evaluator import (
            evaluate_classifier)
        from tfllm.models.text_classifier_api import PER_EXAMPLE
        from tfllm.models.text_classifier_api import as_examples

        examples = check_labels(as_examples(self, x, y, "x"), self.id2label)
        result = evaluate_classifier(self, examples, batch_size or 64)
        if not return_predictions:
            result = {k: v for k, v in result.items()
                      if k not in PER_EXAMPLE}
        return result

    def export(self, export_dir="saved_models/classifier", model_name=None):
        """Writes one raw-text TF Serving SavedModel version of the
        ensemble (`tfllm.export.classifier_serving.export_classifier`:
        same signature and outputs as one model's); returns its path."""
        from tfllm.export.classifier_serving import export_classifier

        return self._export(export_classifier, export_dir, model_name)


def ensemble_of(members):
    """`TokenClassifierEnsemble` or `TextClassifierEnsemble` of `members`
    (chosen by the first member's type).

    Raises:
        ValueError: members of another kind, or as the classes raise.
    """
    from tfllm.models.text_classifier import TextClassifier
    from tfllm.models.token_classifier import TokenClassifier

    members = list(members)
    for cls, ensemble in ((TokenClassifier, TokenClassifierEnsemble),
                          (TextClassifier, TextClassifierEnsemble)):
        if members and all(isinstance(m, cls) for m in members):
            return ensemble(members)
    raise ValueError("an ensemble needs members that are all "
                     "TokenClassifier or all TextClassifier, got "
                     f"{[type(m).__name__ for m in members]}")


def load_ensemble(paths):
    """The ensemble of trained models at `paths` (run folders with
    `model.keras`, or `.keras` files).

    Raises:
        FileNotFoundError: nothing to load at a path.
        ValueError: as `ensemble_of`.
    """
    from tfllm.models.task import load_task_model

    return ensemble_of([load_task_model(pathlib.Path(p), keras.Model)
                        for p in paths])
