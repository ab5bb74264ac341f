"""Prompt/response pairs to causal-LM training sequences, loss on responses.

For supervised fine-tuning (instruction tuning, Ouyang et al. 2022,
"Training language models to follow instructions with human feedback")
the model reads `prompt + response` and is trained to predict only the
response tokens (and the end-of-turn token that closes it): the prompt's
tokens get sample weight 0, so the loss never teaches the model to write
user questions.
"""

import keras
import numpy as np
import tensorflow as tf

from tfllm.data.errors import DataFormatError
from tfllm.data.pipeline import EncodedWindows


def token_lists(tokenizer, texts):
    """Token ids of `texts` (a KerasHub tokenizer, eager).

    Args:
        tokenizer: `keras_hub.tokenizers.Tokenizer`.
        texts: list of str.

    Returns:
        list of lists of int (empty for no texts).
    """
    if not texts:
        return []
    output = tokenizer(tf.constant(texts))
    if hasattr(output, "to_list"):
        return [list(map(int, row)) for row in output.to_list()]
    return [np.asarray(row).astype(int).tolist() for row in output]


@keras.saving.register_keras_serializable(package="tfllm")
class PromptResponsePreprocessor(keras.layers.Layer):
    """Tokenizes prompt/response pairs for a causal LM, in Python.

    With a chat template (`use_chat_template`), the prompt is rendered as a
    user turn (after an optional system message) followed by the assistant
    header, exactly as at inference; the response is followed by the
    tokenizer's end token (the end of the assistant turn). Without one, the
    prompt text is tokenized as it is and the response follows directly.

    Args:
        tokenizer: a KerasHub tokenizer with `end_token_id`; a
            `tfllm.generation.ChatTokenizer` for chat templates.
        sequence_length: int. Longest model input; a pair of
            `sequence_length + 1` tokens fills it (inputs are all tokens but
            the last, labels all but the first).
        use_chat_template: bool or None. None uses the template when the
            tokenizer has one.
        system_prompt: str or None. System message for examples without
            their own.

    Raises:
        ValueError: `use_chat_template` is True and the tokenizer has no
            template.
    """

    def __init__(self, tokenizer, sequence_length=512, use_chat_template=None,
                 system_prompt=None, **kwargs):
        super().__init__(**kwargs)
        template = getattr(tokenizer, "chat_template", None)
        if use_chat_template is None:
            use_chat_template = bool(template)
        if use_chat_template and not template:
            raise ValueError("use_chat_template=True but the tokenizer has "
                             "no chat template")
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.use_chat_template = use_chat_template
        self.system_prompt = system_prompt

    def prompt_text(self, prompt, system=None):
        """The prompt as the model reads it (chat-formatted when enabled)."""
        if not self.use_chat_template:
            return prompt
        messages = []
        system = system or self.system_prompt
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": prompt})
        return self.tokenizer.apply_chat_template(messages, True)

    def prompt_ids(self, prompts, systems=None):
        """Token ids of prompts, ready for `tfllm.generation.generate`.

        Args:
            prompts: list of str.
            systems: list of str/None or None.

        Returns:
            list of lists of int.
        """
        systems = systems or [None] * len(prompts)
        return token_lists(self.tokenizer, [
            self.prompt_text(p, s) for p, s in zip(prompts, systems)])

    def encode(self, examples):
        """Encodes `PromptResponse` examples for `tfllm.training.train`.

        Token `t` of a sequence is trained to predict token `t + 1`; its
        sample weight is 1 exactly when token `t + 1` belongs to the response
        (end token included). A response too long for `sequence_length` is
        cut at the end and counted.

        Args:
            examples: list of `tfllm.data.prompt_response.PromptResponse`.

        Returns:
            `(encoded, num_truncated)`: `EncodedWindows` with ragged int32
            `token_ids`/`padding_mask` features, ragged int32 labels (the
            next tokens) and ragged float32 weights; and the number of
            responses that were cut.

        Raises:
            DataFormatError: a prompt leaves no room for its response
                (`path:line`, token counts).
            ValueError: the tokenizer has no end token.
        """
        if getattr(self.tokenizer, "end_token_id", None) is None:
            raise ValueError("the tokenizer has no end token")
        prompts = self.prompt_ids([e.prompt for e in examples],
                                  [e.system for e in examples])
        responses = token_lists(self.tokenizer,
                                 [e.response for e in examples])
        end = int(self.tokenizer.end_token_id)
        inputs, labels, weights = [], [], []
        truncated = 0
        for example, prompt, response in zip(examples, prompts, responses):
            if len(prompt) >= self.sequence_length:
                raise DataFormatError(
                    example.path or "<examples>", example.line or None,
                    f"the prompt has {len(prompt)} tokens, which leaves no "
                    f"room for the response in sequence_length "
                    f"{self.sequence_length}; shorten it or raise "
                    "--sequence-length")
            sequence = prompt + response + [end]
            if len(sequence) > self.sequence_length + 1:
                sequence = sequence[:self.sequence_length + 1]
                truncated += 1
            inputs.append(sequence[:-1])
            labels.append(sequence[1:])
            # Label t is sequence[t + 1]: a response token iff
            # t + 1 >= len(prompt).
            weights.append([float(t + 1 >= len(prompt))
                            for t in range(len(sequence) - 1)])
        token_ids = tf.ragged.constant(inputs, tf.int32,
                                       row_splits_dtype=tf.int64)
        features = {"token_ids": token_ids,
                    "padding_mask": tf.ones_like(token_ids)}
        encoded = EncodedWindows(
            features,
            tf.ragged.constant(labels, tf.int32, row_splits_dtype=tf.int64),
            tf.ragged.constant(weights, tf.float32,
                               row_splits_dtype=tf.int64))
        return encoded, truncated

    def get_config(self):
        config = super().get_config()
        config.update({
            "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
            "sequence_length": self.sequence_length,
            "use_chat_template": self.use_chat_template,
            "system_prompt": self.system_prompt,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["tokenizer"], dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(
                config["tokenizer"])
        return cls(**config)
