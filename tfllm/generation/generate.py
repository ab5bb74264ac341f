"""Autoregressive generation from a KerasHub causal LM, batched and cached.

Prompts of different lengths share one batch by **right padding in place**
(KerasHub's own scheme): every prompt starts at position 0 of a buffer of
`max_prompt_length + max_new_tokens` slots; decoding starts at the shortest
prompt's end, and while a row is still inside its prompt its own token is
kept instead of the sampled one. Each token thus sits at its true position
and attends only to real tokens of its own row, so a row's continuation
does not depend on the other prompts of the batch (outside case BR-15).
Left padding would shift the position ids by the pad count unless they are
rebuilt from the mask (keras-team/keras-hub#571). Where prompts end is read
from their lengths, never from a pad id, so a pad id equal to the end id
(huggingface/transformers#25790) cannot stop generation early.

With `use_cache`, keys and values of earlier positions are kept (the model's
`call_with_cache` / `_build_cache`), so each step runs the model on one
token; without it every step runs the backbone on the whole buffer.
"""

import weakref

import numpy as np
import tensorflow as tf

from tfllm.generation.config import GenerationConfig
from tfllm.generation.sampling import filter_logits
from tfllm.generation.sampling import greedy_tokens
from tfllm.generation.sampling import sample_tokens

_DECODERS = weakref.WeakKeyDictionary()


def pad_prompts(prompts, max_new_tokens, fill_token_id=0):
    """Right-pads token-id prompts into one decoding buffer.

    Args:
        prompts: list of lists of int, each non-empty.
        max_new_tokens: int. Free slots after the longest prompt.
        fill_token_id: int. Value of the free slots (never read as input
            before being overwritten).

    Returns:
        `(token_ids, prompt_mask, lengths)`: int32
        `[batch_size, max_prompt_length + max_new_tokens]`, bool of the same
        shape (True on prompt tokens) and int32 `[batch_size]`.

    Raises:
        ValueError: no prompt, or an empty prompt (a model needs at least
            one token to predict from; prepend the BOS token).
    """
    if not prompts:
        raise ValueError("no prompts given")
    lengths = np.array([len(p) for p in prompts], np.int32)
    if lengths.min() == 0:
        empty = int(np.argmin(lengths))
        raise ValueError(
            f"prompt {empty} is empty; give at least one token (e.g. BOS)")
    width = int(lengths.max()) + max_new_tokens
    token_ids = np.full((len(prompts), width), fill_token_id, np.int32)
    prompt_mask = np.zeros((len(prompts), width), bool)
    for row, prompt in enumerate(prompts):
        token_ids[row, :len(prompt)] = prompt
        prompt_mask[row, :len(prompt)] = True
    return token_ids, prompt_mask, lengths


def _next_logits_fn(causal_lm, use_cache):
    """`(tokens, cache, index) -> (logits at index, cache)`.

    The logits predict the token at `index` from the tokens before it.
    """
    backbone = causal_lm.backbone

    def cached(tokens, cache, index):
        last = tf.slice(tokens, [0, index - 1], [-1, 1])  # [batch, 1]
        logits, _, cache = causal_lm.call_with_cache(last, cache, index - 1)
        return logits[:, 0, :], cache

    def uncached(tokens, cache, index):
        outputs = backbone(
            {"token_ids": tokens, "padding_mask": tf.ones_like(tokens)}
        )
        if isinstance(outputs, dict):
            outputs = outputs["sequence_output"]
        hidden = tf.gather(outputs, index - 1, axis=1)  # [batch, hidden]
        return backbone.token_embedding(hidden, reverse=True), cache

    return cached if use_cache else uncached


def _is_stop(tokens, stop_token_ids):
    if not stop_token_ids:
        return tf.zeros_like(tokens, tf.bool)
    stops = tf.constant(list(stop_token_ids), tf.int32)
    return tf.reduce_any(tokens[:, None] == stops[None, :], axis=-1)


def _write_column(tokens, index, values):
    column = tf.equal(tf.range(tf.shape(tokens)[1]), index)[None, :]
    return tf.where(column, values[:, None], tokens)


def _initial_cache(causal_lm, tokens, use_cache):
    if not use_cache:
        return tf.zeros([])
    _, cache = causal_lm._build_cache(tokens)
    return cache


def _sampling_loop(causal_lm, config, stop_token_ids, fill_token_id):
    next_logits = _next_logits_fn(causal_lm, config.use_cache)

    def choose(logits, seed, index):
        if config.strategy == "greedy":
            return greedy_tokens(logits)
        return sample_tokens(logits, seed, index, config.temperature,
                             config.top_k, config.top_p)

    def decode(tokens, prompt_mask, lengths, limits, seed):
        cache = _initial_cache(causal_lm, tokens, config.use_cache)
        width = tf.shape(tokens)[1]
        done = tf.zeros_like(lengths, tf.bool)

        def cond(index, tokens, cache, done):
            return tf.logical_and(index < width,
                                  tf.logical_not(tf.reduce_all(done)))

        def body(index, tokens, cache, done):
            logits, cache = next_logits(tokens, cache, index)
            chosen = choose(logits, seed, index)
            in_prompt = prompt_mask[:, index]
            chosen = tf.where(
                in_prompt, tokens[:, index],
                tf.where(done, fill_token_id, chosen))
            tokens = _write_column(tokens, index, chosen)
            new = tf.logical_and(tf.logical_not(in_prompt),
                                 tf.logical_not(done))
            finished = tf.logical_or(_is_stop(chosen, stop_token_ids),
                                     index + 1 >= limits)
            done = tf.logical_or(done, tf.logical_and(new, finished))
            return index + 1, tokens, cache, done

        _, tokens, _, _ = tf.while_loop(
            cond, body, (tf.reduce_min(lengths), tokens, cache, done))
        return tokens

    return decode


def _beam_loop(causal_lm, config, stop_token_ids, fill_token_id):
    next_logits = _next_logits_fn(causal_lm, config.use_cache)
    beams = config.num_beams
    minus_inf = tf.constant(-float("inf"), tf.float32)

    def decode(tokens, prompt_mask, lengths, limits, seed):
        del seed  # beam search is deterministic
        batch_size = tf.shape(tokens)[0]
        width = tf.shape(tokens)[1]
        # One copy of every row per beam: [batch_size * beams, ...].
        tokens, prompt_mask, limits = (
            tf.repeat(t, beams, axis=0) for t in (tokens, prompt_mask, limits))
        cache = _initial_cache(causal_lm, tokens, config.use_cache)
        # Only the first beam is live at first: the others start at -1e9,
        # so the first free step expands beam 0 alone.
        scores = tf.tile(
            tf.constant([0.0] + [-1e9] * (beams - 1), tf.float32),
            [batch_size])
        done = tf.zeros_like(limits, tf.bool)
        row_offset = tf.range(batch_size)[:, None] * beams  # [batch, 1]

        def cond(index, tokens, cache, done, scores):
            return tf.logical_and(index < width,
                                  tf.logical_not(tf.reduce_all(done)))

        def body(index, tokens, cache, done, scores):
            logits, cache = next_logits(tokens, cache, index)
            log_probs = tf.nn.log_softmax(
                filter_logits(logits, config.temperature), axis=-1)
            vocabulary_size = tf.shape(log_probs)[-1]
            # A beam inside its prompt, or finished, has one continuation
            # (its prompt token, or the fill) that costs nothing: its score
            # and its place among the beams are unchanged.
            in_prompt = prompt_mask[:, index]
            forced = tf.logical_or(in_prompt, done)
            forced_token = tf.where(in_prompt, tokens[:, index],
                                    fill_token_id)
            forced_log_probs = tf.where(
                tf.one_hot(forced_token, vocabulary_size) > 0, 0.0, minus_inf)
            log_probs = tf.where(forced[:, None], forced_log_probs, log_probs)
            candidates = tf.reshape(scores[:, None] + log_probs,
                                    [batch_size, -1])  # [batch, beams * V]
            top_scores, top_index = tf.math.top_k(candidates, k=beams)
            source = tf.reshape(row_offset + top_index // vocabulary_size,
                                [-1])
            chosen = tf.reshape(top_index % vocabulary_size, [-1])
            # `gather` forgets static shapes, which `while_loop` checks.
            tokens = tf.ensure_shape(tf.gather(tokens, source), tokens.shape)
            done = tf.ensure_shape(tf.gather(done, source), done.shape)
            if config.use_cache:
                cache = tf.ensure_shape(tf.gather(cache, source), cache.shape)
            tokens = _write_column(tokens, index, chosen)
            new = tf.logical_and(tf.logical_not(in_prompt),
                                 tf.logical_not(done))
            finished = tf.logical_or(_is_stop(chosen, stop_token_ids),
                                     index + 1 >= limits)
            done = tf.logical_or(done, tf.logical_and(new, finished))
            scores = tf.ensure_shape(tf.reshape(top_scores, [-1]),
                                     scores.shape)
            return index + 1, tokens, cache, done, scores

        _, tokens, _, _, scores = tf.while_loop(
            cond, body,
            (tf.reduce_min(lengths), tokens, cache, done, scores))
        best = tf.argmax(tf.reshape(scores, [batch_size, beams]), axis=-1,
                         output_type=tf.int32)
        return tf.gather(tokens, tf.range(batch_size) * beams + best)

    return decode


def _decoder(causal_lm, config, stop_token_ids, fill_token_id, jit_compile):
    key = (config.strategy, config.temperature, config.top_k, config.top_p,
           config.num_beams, config.use_cache, tuple(stop_token_ids),
           fill_token_id, jit_compile)
    decoders = _DECODERS.setdefault(causal_lm, {})
    if key not in decoders:
        build = _beam_loop if config.strategy == "beam" else _sampling_loop
        decoders[key] = tf.function(
            build(causal_lm, config, tuple(stop_token_ids), fill_token_id),
            jit_compile=jit_compile, reduce_retracing=True)
    return decoders[key]


def generate(causal_lm, prompts, config=None, stop_token_ids=(),
             jit_compile=False):
    """Continues each token-id prompt; the batch does not change any row.

    Implements greedy decoding, sampling with temperature, top-k (Fan et
    al., 2018) and top-p (Holtzman et al., 2020) filters, and beam search
    (the beam's summed log-probability, no length penalty; a finished beam
    keeps its score and competes with the live ones). Decoding stops for a
    row at its first stop token or after `config.max_new_tokens` tokens.

    Args:
        causal_lm: a KerasHub `CausalLM` (`GPT2CausalLM`, `Llama3CausalLM`,
            ...) offering `backbone`, `call_with_cache` and `_build_cache`.
        prompts: list of lists of int token ids (different lengths allowed).
        config: `GenerationConfig` or None (greedy, 32 new tokens, cache).
        stop_token_ids: iterable of int. Generation of a row ends at the
            first of these (e.g. the end-of-turn id).
        jit_compile: bool. Compile the decoding loop with XLA. Greedy and
            beam results are unchanged; sampled tokens are reproducible per
            seed but differ from the non-XLA draw (XLA's random bits).

    Returns:
        list of lists of int: the new tokens of each prompt, without the
        prompt and without the stop token.

    Raises:
        ValueError: an empty prompt, or a bad `config`.

    Examples:
    ```python
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32)
    lm = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    generate(lm, [[5, 6, 7], [8, 9]], GenerationConfig(max_new_tokens=4))
    ```
    """
    config = config or GenerationConfig()
    stop_token_ids = tuple(int(t) for t in stop_token_ids)
    fill_token_id = next(i for i in range(len(stop_token_ids) + 1)
                         if i not in stop_token_ids)
    token_ids, prompt_mask, lengths = pad_prompts(
        prompts, config.max_new_tokens, fill_token_id)
    decode = _decoder(causal_lm, config, stop_token_ids, fill_token_id,
                      jit_compile)
    output = decode(
        tf.constant(token_ids), tf.constant(prompt_mask),
        tf.constant(lengths), tf.constant(lengths + config.max_new_tokens),
        tf.constant(config.seed, tf.int32),
    ).numpy()
    results = []
    for row, length in enumerate(lengths):
        new = output[row, length:length + config.max_new_tokens].tolist()
        for position, token in enumerate(new):
            if token in stop_token_ids:
                new = new[:position]
                break
        results.append(new)
    return results
