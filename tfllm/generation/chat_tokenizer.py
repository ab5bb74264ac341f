"""A byte-level BPE tokenizer that carries its model's chat template."""

# How text is split into words before BPE, by GGUF `tokenizer.ggml.pre`
# name. None keeps KerasHub's split (Llama 3's regular expression).
PRE_TOKENIZERS = {"gpt2": "gpt2", "smollm": "smollm", "llama-bpe": None,
                  "default": None}

import keras
import keras_hub

from tfllm.generation.chat import render_chat_template


@keras.saving.register_keras_serializable(package="tfllm")
class ChatTokenizer(keras_hub.tokenizers.BytePairTokenizer):
    """KerasHub's byte-level BPE tokenizer with special and chat tokens.

    Byte-level BPE as in GPT-2 (Radford et al., 2019) and Llama 3; special
    tokens (`<|im_start|>`, ...) are never split. The chat template and the
    start/end/pad tokens are part of the config, so they travel with every
    saved model.

    Args:
        vocabulary: dict of str to int, or a path to a JSON vocabulary.
        merges: list of str (`"a b"`) or a path to a merges file.
        bos_token: str or None. Start token (`start_token_id`).
        eos_token: str or None. End-of-turn / end token (`end_token_id`),
            the stop token of generation.
        pad_token: str or None. Padding token (`pad_token_id`); defaults to
            `eos_token`.
        misc_special_tokens: list of str. Other unsplittable tokens.
        chat_template: str or None. Jinja chat template.
        pre_tokenizer: str or None. How text is split before BPE on the
            Python path (eager calls; via the `tokenizers` library):
            `"gpt2"` (GPT-2's byte-level regular expression), `"smollm"`
            (digits one by one, then GPT-2's), or None (KerasHub's Llama 3
            expression). Inside `tf.function`/`tf.data`, KerasHub's
            TensorFlow split is used, which can differ on runs of
            whitespace.
        **kwargs: passed to `BytePairTokenizer` (`sequence_length`, ...).

    Raises:
        ValueError: a special token is not in the vocabulary.
    """

    def __init__(self, vocabulary=None, merges=None, bos_token=None,
                 eos_token=None, pad_token=None, misc_special_tokens=(),
                 chat_template=None, pre_tokenizer=None, **kwargs):
        if pre_tokenizer not in (None, "gpt2", "smollm"):
            raise ValueError("pre_tokenizer must be None, 'gpt2' or "
                             f"'smollm', got {pre_tokenizer!r}")
        self.pre_tokenizer = pre_tokenizer
        pad_token = pad_token or eos_token
        for name, token in (("start_token", bos_token),
                            ("end_token", eos_token),
                            ("pad_token", pad_token)):
            if token is not None:
                self._add_special_token(token, name)
            else:
                setattr(self, f"{name}_id", None)
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.misc_special_tokens = list(misc_special_tokens)
        self.chat_template = chat_template
        unsplittable = sorted(
            {t for t in (bos_token, eos_token, pad_token) if t}
            | set(self.misc_special_tokens))
        kwargs.setdefault("unsplittable_tokens", unsplittable or None)
        super().__init__(vocabulary=vocabulary, merges=merges, **kwargs)

    def _set_vocabulary_and_merges_tokenizers(self, vocabulary, merges):
        super()._set_vocabulary_and_merges_tokenizers(vocabulary, merges)
        if self.pre_tokenizer is None:
            return
        from tokenizers import pre_tokenizers

        steps = []
        if self.pre_tokenizer == "smollm":
            steps.append(pre_tokenizers.Digits(individual_digits=True))
        steps.append(pre_tokenizers.ByteLevel(
            add_prefix_space=self.add_prefix_space, use_regex=True))
        self._tokenizer.pre_tokenizer = pre_tokenizers.Sequence(steps)

    def apply_chat_template(self, messages, add_generation_prompt=True):
        """Renders messages with the chat template (see `chat.py`).

        Args:
            messages: list of `{"role": ..., "content": ...}` dicts.
            add_generation_prompt: bool. End with an assistant header.

        Returns:
            str: the prompt.

        Raises:
            ValueError: the tokenizer has no chat template, or the template
                rejects the messages.
        """
        if not self.chat_template:
            raise ValueError("this tokenizer has no chat template")
        return render_chat_template(
            self.chat_template, messages, add_generation_prompt,
            bos_token=self.bos_token or "", eos_token=self.eos_token or "")

    def get_config(self):
        config = super().get_config()
        config.pop("unsplittable_tokens", None)
        config.update({
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "pad_token": self.pad_token if hasattr(self, "pad_token")
            else None,
            "misc_special_tokens": self.misc_special_tokens,
            "chat_template": self.chat_template,
            "pre_tokenizer": self.pre_tokenizer,
        })
        return config
