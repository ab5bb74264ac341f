"""Log-likelihood of continuations after prompts, from a causal LM.

The score of a continuation `c` after a prompt `x` is
`sum_j log p(c_j | x, c_<j)`, read from one forward pass over `x + c`
(no generation), as in the scoring of GPT-3's multiple-choice tasks (Brown
et al. 2020, "Language Models are Few-Shot Learners", Sec. 2.4).

Tokenization at the boundary: `x` and `x + c` are tokenized whole and the
continuation tokens are those of `x + c` after the longest common prefix
with `x`'s tokens. A byte-level BPE puts a leading space into the word's
token (`" positive"`), and when a merge crosses the boundary the prompt's
last token is scored as part of the continuation, so every candidate is
scored on the tokens the model would really see.

Rows that coincide are run once: with single-token verbalizers and no merge
across the boundary, all labels of a prompt are read off one row (the
prompt itself), which is exact and makes zero-shot cost one forward pass
per text. Tokens that every row starts with (few-shot demonstrations, a
chat header) are run once: their keys and values are cached
(`call_with_cache`, KerasHub's generation path) and each batch only runs
its rows' remaining tokens; the result is the same function of the tokens.
"""

import pathlib

import numpy as np
import tensorflow as tf

from tfllm.preprocessing.prompt_response_preprocessor import token_lists


def _common_prefix(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def load_causal_lm(model):
    """A KerasHub causal LM and its tokenizer, from any model tfllm loads.

    Args:
        model: str. `"smollm2"` (offline SmolLM2-135M-Instruct), a `.gguf`
            file, a model fine-tuned by `finetune_clm` (`model.keras` or its
            run folder), a KerasHub preset folder (what `pretrain_clm`
            saves) or a Hugging Face decoder folder.

    Returns:
        `(causal_lm, tokenizer)`: a `keras_hub.models.CausalLM` (GPT-2,
        Llama, ...) and its tokenizer.

    Raises:
        BackboneNotAvailableError: see `tfllm.backbones.load_backbone`.
        ValueError: the model is not a decoder with a causal-LM head.
    """
    import keras

    from tfllm.backbones import load_backbone
    from tfllm.models.sft_causal_lm import keras_hub_causal_lm_class

    path = pathlib.Path(str(model))
    if path.is_dir() and (path / "model.keras").is_file():
        path = path / "model.keras"
    if path.suffix == ".keras":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        loaded = keras.models.load_model(path, compile=False)
        if not hasattr(loaded, "causal_lm"):
            raise ValueError(f"{path} holds a {type(loaded).__name__}, not "
                             "a causal LM (finetune_clm's SFTCausalLM)")
        return loaded.causal_lm(), loaded.preprocessor.tokenizer
    backbone, tokenizer = load_backbone(model)
    return keras_hub_causal_lm_class(backbone)(backbone,
                                               preprocessor=None), tokenizer


class CausalLMScorer:
    """Scores continuations after prompts with a causal LM, in batches.

    Args:
        causal_lm: `keras_hub.models.CausalLM` (its backbone and tied or
            untied token embedding are used: logits are computed only at
            the positions that predict continuation tokens).
        tokenizer: its KerasHub tokenizer.
        batch_size: int. Rows (token sequences) per forward pass; rows are
            sorted by length and right-padded, so padding is small.
            Default 16.
        min_shared_prefix: int or None. When all rows start with at least
            this many equal tokens and the model has `call_with_cache`,
            those tokens are run once and cached. None turns it off.
            Default 16.

    Raises:
        ValueError (from `score`): a prompt with no tokens, a continuation
            that adds none, or a row longer than the model's positions.
    """

    def __init__(self, causal_lm, tokenizer, batch_size=16,
                 min_shared_prefix=16):
        self.causal_lm = causal_lm
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.min_shared_prefix = min_shared_prefix
        self.max_length = getattr(causal_lm.backbone, "max_sequence_length",
                                  None)
        self._forward = tf.function(self._log_probs, reduce_retracing=True)
        self._cached_forward = tf.function(self._log_probs_after_prefix,
                                           reduce_retracing=True)
        self._build = tf.function(causal_lm._build_cache,
                                  reduce_retracing=True) \
            if hasattr(causal_lm, "_build_cache") else None

    def _head(self, hidden, rows, positions):
        picked = tf.gather_nd(hidden, tf.stack([rows, positions], axis=1))
        logits = self.causal_lm.backbone.token_embedding(
            picked, reverse=True)  # (P, V)
        return tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)

    def _log_probs(self, token_ids, padding_mask, rows, positions):
        hidden = self.causal_lm.backbone({"token_ids": token_ids,
                                          "padding_mask": padding_mask})
        if isinstance(hidden, dict):
            hidden = hidden["sequence_output"]
        return self._head(hidden, rows, positions)

    def _log_probs_after_prefix(self, token_ids, prefix_cache, rows,
                                positions):
        # prefix_cache: (1, layers, 2, prefix, heads, head_dim), tiled to
        # the batch and padded to prefix + suffix positions.
        batch, width = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
        prefix = tf.shape(prefix_cache)[3]
        cache = tf.tile(prefix_cache, [batch, 1, 1, 1, 1, 1])
        cache = tf.pad(cache, [[0, 0], [0, 0], [0, 0], [0, width], [0, 0],
                               [0, 0]])
        _, hidden, _ = self.causal_lm.call_with_cache(token_ids, cache,
                                                      prefix)
        return self._head(hidden, rows, positions - prefix)

    def _shared_prefix(self, rows, wanted):
        """Tokens every row starts with, short of any scored position."""
        if not self.min_shared_prefix or self._build is None:
            return 0
        first = rows[0]
        length = min(min(wanted[r]) for r in range(len(rows)))
        for row in rows[1:]:
            length = min(length, _common_prefix(first, row))
        return length if length >= self.min_shared_prefix else 0

    def plan(self, prompts, continuations):
        """Tokenizes and lays out rows; see `score`.

        Returns:
            `(rows, targets)`: `rows` a list of token lists (unique);
            `targets[i][c]` a list of `(row, position, token)` triples.
        """
        prompt_tokens = token_lists(self.tokenizer, list(prompts))
        full_tokens = token_lists(self.tokenizer, [
            p + c for p in prompts for c in continuations])
        rows, index, targets = [], {}, []
        for i, (prompt, tokens) in enumerate(zip(prompts, prompt_tokens)):
            per_prompt = []
            for c, continuation in enumerate(continuations):
                full = full_tokens[i * len(continuations) + c]
                start = _common_prefix(tokens, full)
                if start == 0:
                    raise ValueError(
                        f"prompt {prompt[:60]!r} gives no token before "
                        f"continuation {continuation!r}: nothing to "
                        "condition on; add text before {text}")
                if start == len(full):
                    raise ValueError(
                        f"continuation {continuation!r} adds no token "
                        f"after prompt {prompt[-60:]!r}")
                row = tuple(full[:-1])
                if self.max_length and len(row) > self.max_length:
                    raise ValueError(
                        f"prompt + {continuation!r} is {len(row) + 1} "
                        f"tokens; the model reads {self.max_length}: "
                        f"shorten the template or use fewer --shots")
                if row not in index:
                    index[row] = len(rows)
                    rows.append(row)
                per_prompt.append([(index[row], j - 1, full[j])
                                   for j in range(start, len(full))])
            targets.append(per_prompt)
        return rows, targets

    def score(self, prompts, continuations):
        """Log-likelihoods of each continuation after each prompt.

        Args:
            prompts: list of str, `n` prompts.
            continuations: list of str, `c` continuations, appended
                verbatim (include the leading space a word needs).

        Returns:
            `(log_likelihood, num_tokens)`: float64 `[n, c]` sums of the
            natural-log probabilities of the continuation tokens, and int
            `[n, c]` token counts (divide for length normalisation).
        """
        rows, targets = self.plan(prompts, continuations)
        wanted = {}
        for per_prompt in targets:
            for triples in per_prompt:
                for row, position, token in triples:
                    wanted.setdefault(row, {}).setdefault(
                        position, set()).add(token)
        values = {}
        prefix = self._shared_prefix(rows, wanted)
        if prefix:
            _, prefix_cache = self._build(tf.constant([rows[0][:prefix]]))
        order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
        for first in range(0, len(order), self.batch_size):
            batch = order[first:first + self.batch_size]
            width = max(len(rows[r]) for r in batch) - prefix
            token_ids = np.zeros((len(batch), width), np.int32)
            mask = np.zeros((len(batch), width), np.int32)
            picks = []
            for b, r in enumerate(batch):
                token_ids[b, :len(rows[r]) - prefix] = rows[r][prefix:]
                mask[b, :len(rows[r]) - prefix] = 1
                picks += [(b, r, p) for p in sorted(wanted[r])]
            rows_of_picks = tf.constant([b for b, _, _ in picks], tf.int32)
            positions = tf.constant([p for _, _, p in picks], tf.int32)
            if prefix:
                log_probs = self._cached_forward(
                    tf.constant(token_ids), prefix_cache, rows_of_picks,
                    positions).numpy()
            else:
                log_probs = self._forward(
                    tf.constant(token_ids), tf.constant(mask), rows_of_picks,
                    positions).numpy()
            for k, (_, r, p) in enumerate(picks):
                for t in wanted[r][p]:
                    values[r, p, t] = float(log_probs[k, t])
        log_likelihood = np.zeros((len(prompts), len(continuations)))
        num_tokens = np.zeros((len(prompts), len(continuations)), np.int64)
        for i, per_prompt in enumerate(targets):
            for c, triples in enumerate(per_prompt):
                log_likelihood[i, c] = sum(values[r, p, t]
                                           for r, p, t in triples)
                num_tokens[i, c] = len(triples)
        return log_likelihood, num_tokens
