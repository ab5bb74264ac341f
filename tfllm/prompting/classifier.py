"""Zero- and few-shot text classification with a prompt or an encoder.

Two scorers behind one call, `ZeroShotClassifier(...).predict(texts)`:

- A causal LM (`CausalLMScorer`): each label scores the log-likelihood of
  its verbalizer words after the prompt (optionally per token: length
  normalisation), the best of its words (`"max"`) or all of them
  (`"logsumexp"`, the probability that the answer is any of the words);
  label probabilities are the softmax over labels, optionally calibrated
  on content-free inputs (Zhao et al. 2021). K demonstrations are
  prepended (`demonstrations`), the same for every text and for the
  content-free inputs.
- An encoder (`EncoderScorer`): the cosine similarity between the text and
  each label's description (the template applied to the label's words, as
  the `hypothesis_template` of Hugging Face's zero-shot pipeline; "{text}"
  uses the words as they are); a label scores by its best description.
"""

import pathlib

import numpy as np
from scipy.special import logsumexp

from tfllm.prompting.calibration import CONTENT_FREE_INPUTS
from tfllm.prompting.calibration import calibrate
from tfllm.prompting.calibration import content_free_probabilities
from tfllm.prompting.calibration import label_probabilities
from tfllm.prompting.encoder_scorer import EncoderScorer
from tfllm.prompting.lm_scorer import CausalLMScorer

REDUCTIONS = ("max", "logsumexp")


def reduce_words(word_scores, groups, reduction="max"):
    """Label scores from word scores.

    Args:
        word_scores: float array `[n, num_words]`.
        groups: list of lists of int, the word columns of each label.
        reduction: `"max"` or `"logsumexp"`.

    Returns:
        float64 array `[n, num_labels]`.

    Raises:
        ValueError: unknown reduction.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}: "
                         f"{reduction!r}")
    word_scores = np.asarray(word_scores, np.float64)
    reduce = np.max if reduction == "max" else logsumexp
    return np.stack([reduce(word_scores[:, g], axis=1) for g in groups], 1)


def load_scorer(model, kind=None, batch_size=16, max_length=128):
    """Loads a model as a `CausalLMScorer` or an `EncoderScorer`.

    Args:
        model: str. `"smollm2"`, a `.gguf` file, a finetune_clm model or
            run folder, `"minilm"`, `"multilingual-e5-small"`, or a
            KerasHub/Hugging Face folder (pretrain_clm and pretrain_mlm
            save those).
        kind: `"lm"`, `"encoder"` or None (a decoder with a KerasHub
            causal-LM class is scored as an LM, anything else as an
            encoder).
        batch_size: int. Rows per forward pass.
        max_length: int. Encoder: sub-tokens per text.

    Returns:
        `CausalLMScorer` or `EncoderScorer`.

    Raises:
        ValueError: `kind="lm"` for a model without a causal-LM head, or an
            unknown kind.
        BackboneNotAvailableError, FileNotFoundError: see the loaders.
    """
    from tfllm.backbones import SMOLLM2
    from tfllm.backbones import load_backbone
    from tfllm.models.sft_causal_lm import keras_hub_causal_lm_class
    from tfllm.prompting.lm_scorer import load_causal_lm

    if kind not in (None, "lm", "encoder"):
        raise ValueError(f"kind must be 'lm' or 'encoder': {kind!r}")
    path = pathlib.Path(str(model))
    if kind != "encoder" and (
            model == SMOLLM2 or path.suffix in (".gguf", ".keras")
            or (path / "model.keras").is_file()):
        return CausalLMScorer(*load_causal_lm(model), batch_size)
    backbone, tokenizer = load_backbone(model)
    try:
        lm_class = keras_hub_causal_lm_class(backbone)
    except ValueError:
        if kind == "lm":
            raise ValueError(f"{model}: {type(backbone).__name__} has no "
                             "causal-LM head; use the encoder") from None
        lm_class = None
    if lm_class is not None and kind != "encoder":
        return CausalLMScorer(lm_class(backbone, preprocessor=None),
                              tokenizer, batch_size)
    return EncoderScorer(backbone, tokenizer, max_length, batch_size)


class ZeroShotClassifier:
    """Classifies texts with a prompt template and a verbalizer.

    Args:
        scorer: `CausalLMScorer` or `EncoderScorer`.
        template: `tfllm.prompting.templates.PromptTemplate`.
        demonstrations: list of examples (`.text`, `.label`) prepended to
            every prompt (LM only); see `sample_demonstrations`.
        calibrate: bool. Contextual calibration on `CONTENT_FREE_INPUTS`
            (LM only).
        normalize_length: bool. Score a word by its mean token
            log-likelihood instead of the sum (LM only).
        reduction: `"max"` (default) or `"logsumexp"` over a label's words.
        use_chat_template: bool. Put the prompt in a user turn of the
            tokenizer's chat template (demonstrations as earlier
            user/assistant turns); the answer follows the assistant header
            directly (the template's `answer_prefix` is not used).
        system_prompt: str or None. System message in chat mode.

    Raises:
        ValueError: calibration, demonstrations or chat with an encoder; a
            demonstration whose label the verbalizer lacks; chat with a
            tokenizer that has no chat template.
    """

    def __init__(self, scorer, template, demonstrations=(), calibrate=False,
                 normalize_length=False, reduction="max",
                 use_chat_template=False, system_prompt=None):
        self.scorer = scorer
        self.template = template
        self.demonstrations = list(demonstrations)
        self.calibrate = calibrate
        self.normalize_length = normalize_length
        self.reduction = reduction
        self.use_chat_template = use_chat_template
        self.system_prompt = system_prompt
        self.is_lm = isinstance(scorer, CausalLMScorer)
        if not self.is_lm and (calibrate or self.demonstrations
                               or use_chat_template):
            raise ValueError("calibration, demonstrations and the chat "
                             "template need a causal LM, not an encoder")
        if use_chat_template and not getattr(scorer.tokenizer,
                                             "chat_template", None):
            raise ValueError("use_chat_template: the tokenizer has no chat "
                             "template")
        for example in self.demonstrations:
            template.words(example.label)
        self.words = [w for label in template.labels
                      for w in template.words(label)]
        groups, start = [], 0
        for label in template.labels:
            count = len(template.words(label))
            groups.append(list(range(start, start + count)))
            start += count
        self.groups = groups
        self.p_cf = None

    @property
    def labels(self):
        """list of str: the labels, in score-column order."""
        return self.template.labels

    @property
    def score_kind(self):
        """`"probability"` (LM) or `"cosine"` (encoder)."""
        return "probability" if self.is_lm else "cosine"

    def prompt(self, text):
        """The full prompt for `text` (demonstrations included)."""
        template = self.template
        if self.use_chat_template:
            messages = []
            if self.system_prompt:
                messages.append({"role": "system",
                                 "content": self.system_prompt})
            for example in self.demonstrations:
                messages += [
                    {"role": "user", "content": template.render(
                        example.text)},
                    {"role": "assistant",
                     "content": template.words(example.label)[0]}]
            messages.append({"role": "user",
                             "content": template.render(text)})
            return self.scorer.tokenizer.apply_chat_template(messages, True)
        parts = [template.demonstration(e.text, e.label)
                 for e in self.demonstrations]
        return template.demonstration_separator.join(
            parts + [template.render(text)])

    def probabilities(self, texts):
        """Uncalibrated label probabilities from the causal LM.

        Args:
            texts: list of str.

        Returns:
            float64 `[len(texts), num_labels]`, rows summing to 1.
        """
        prefix = "" if self.use_chat_template else \
            self.template.answer_prefix
        log_likelihood, num_tokens = self.scorer.score(
            [self.prompt(t) for t in texts],
            [prefix + w for w in self.words])
        if self.normalize_length:
            log_likelihood = log_likelihood / num_tokens
        return label_probabilities(
            reduce_words(log_likelihood, self.groups, self.reduction))

    def content_free_distribution(self):
        """`p_cf` of the current prompt (computed once, then cached).

        Returns:
            float64 array `[num_labels]`.
        """
        if self.p_cf is None:
            self.p_cf = content_free_probabilities(
                self.probabilities(list(CONTENT_FREE_INPUTS)))
        return self.p_cf

    def predict(self, texts):
        """Labels and per-label scores.

        Args:
            texts: list of str.

        Returns:
            `(labels, scores)`: list of str (the arg-max label of each
            text) and float64 `[len(texts), num_labels]`: label
            probabilities (LM; calibrated when enabled) or cosine
            similarities (encoder), columns in `self.labels` order.
        """
        texts = list(texts)
        if self.is_lm:
            scores = self.probabilities(texts)
            if self.calibrate:
                scores = calibrate(scores, self.content_free_distribution())
        else:
            descriptions = [self.template.render(w) for w in self.words]
            scores = reduce_words(self.scorer.score(texts, descriptions),
                                  self.groups, "max")
        return [self.labels[i] for i in scores.argmax(axis=1)], scores
