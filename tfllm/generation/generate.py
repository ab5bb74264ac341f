"""Autoregressive generation from a KerasHub causal LM, batched and cached.

Prompts of different lengths share one batch by **right padding in place**
(KerasHub's own scheme): every prompt starts at position 0 of a buffer of
`max_prompt_length + max_new_tokens` slots; decoding starts at the shortest
prompt's end, and while a row is still inside its prompt its own token is
kept instead of the sampled one. Each token thus sits at its true position
and attends only to real tokens of its own row, so a row's continuation
does not depend on the other prompts of the batch.
Left padding would shift the position ids by the pad count unless they are
rebuilt from the mask (keras-team/keras-hub#571). Where prompts end is read
from their lengths, never from a pad id, so a pad id equal to the end id
(huggingface/transformers#25790) cannot stop generation early.

With `use_cache`, keys and values of earlier positions are kept (the model's
`call_with_cache` / `_build_cache`), so each step runs the model on one
token; without it every step runs the backbone on the whole buffer.

Llama-family models (SmolLM2, Llama 3) in float32 without PEFT layers take
a lean step instead (`tfllm.generation.llama_step`: grouped-query attention
without repeated keys/values, one mask per step, the cache written in
place) and the whole loop runs as one XLA program, with buffer widths
rounded up to 64 slots so that prompts of similar lengths share a compiled
program. Its logits equal KerasHub's step's up to float32 rounding (tested,
and the greedy tokens with them); the first call per
buffer shape pays XLA's compile time (about 16 s for SmolLM2-135M on 2
cores).
"""

import weakref

import numpy as np
import tensorflow as tf

from tfllm.generation import llama_step
from tfllm.generation.config import GenerationConfig
from tfllm.generation.sampling import filter_logits
from tfllm.generation.sampling import greedy_tokens
from tfllm.generation.sampling import sample_tokens

_DECODERS = weakref.WeakKeyDictionary()
_XLA_WIDTH_MULTIPLE = 64


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


class _KerasHubSteps:
    """Decoding steps through KerasHub's own `call_with_cache`."""

    def __init__(self, causal_lm, use_cache):
        self.causal_lm = causal_lm
        self.use_cache = use_cache

    def weights(self):
        return ()  # read by the layers themselves

    def initial_cache(self, weights, tokens):
        if not self.use_cache:
            return tf.zeros([])
        _, cache = self.causal_lm._build_cache(tokens)
        return cache

    def next_logits(self, weights, tokens, cache, index):
        """`(logits at index, cache)`: the logits predict the token at
        `index` from the tokens before it."""
        if self.use_cache:
            last = tf.slice(tokens, [0, index - 1], [-1, 1])  # [batch, 1]
            logits, _, cache = self.causal_lm.call_with_cache(
                last, cache, index - 1)
            return logits[:, 0, :], cache
        backbone = self.causal_lm.backbone
        outputs = backbone(
            {"token_ids": tokens, "padding_mask": tf.ones_like(tokens)})
        if isinstance(outputs, dict):
            outputs = outputs["sequence_output"]
        hidden = tf.gather(outputs, index - 1, axis=1)  # [batch, hidden]
        return backbone.token_embedding(hidden, reverse=True), cache


class _LlamaSteps(_KerasHubSteps):
    """The lean Llama step (`tfllm.generation.llama_step`), same results."""

    def weights(self):
        return llama_step.decoder_weights(self.causal_lm)

    def initial_cache(self, weights, tokens):
        backbone = self.causal_lm.backbone
        shape = [tf.shape(tokens)[0], backbone.num_layers, 2,
                 tf.shape(tokens)[1], backbone.num_key_value_heads,
                 backbone.hidden_dim // backbone.num_query_heads]
        _, cache = llama_step.forward_with_cache(
            self.causal_lm, weights, tokens, tf.zeros(shape), 0,
            logits=False)
        return cache

    def next_logits(self, weights, tokens, cache, index):
        last = tf.slice(tokens, [0, index - 1], [-1, 1])  # [batch, 1]
        logits, cache = llama_step.forward_with_cache(
            self.causal_lm, weights, last, cache, index - 1)
        return logits[:, 0, :], cache


def _steps(causal_lm, use_cache):
    if use_cache and llama_step.supports(causal_lm):
        return _LlamaSteps(causal_lm, use_cache)
    return _KerasHubSteps(causal_lm, use_cache)


def _is_stop(tokens, stop_token_ids):
    if not stop_token_ids:
        return tf.zeros_like(tokens, tf.bool)
    stops = tf.constant(list(stop_token_ids), tf.int32)
    return tf.reduce_any(tokens[:, None] == stops[None, :], axis=-1)


def _write_column(tokens, index, values):
    column = tf.equal(tf.range(tf.shape(tokens)[1]), index)[None, :]
    return tf.where(column, values[:, None], tokens)


def _sampling_loop(steps, config, stop_token_ids, fill_token_id):

    def choose(logits, seed, index):
        if config.strategy == "greedy":
            return greedy_tokens(logits)
        return sample_tokens(logits, seed, index, config.temperature,
                             config.top_k, config.top_p)

    def decode(weights, tokens, prompt_mask, lengths, limits, seed):
        cache = steps.initial_cache(weights, tokens)
        width = tf.shape(tokens)[1]
        done = tf.zeros_like(lengths, tf.bool)

        def cond(index, tokens, cache, done):
            return tf.logical_and(index < width,
                                  tf.logical_not(tf.reduce_all(done)))

        def body(index, tokens, cache, done):
            logits, cache = steps.next_logits(weights, tokens, cache, index)
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


def _beam_loop(steps, config, stop_token_ids, fill_token_id):
    beams = config.num_beams
    minus_inf = tf.constant(-float("inf"), tf.float32)

    def decode(weights, tokens, prompt_mask, lengths, limits, seed):
        del seed  # beam search is deterministic
        batch_size = tf.shape(tokens)[0]
        width = tf.shape(tokens)[1]
        # One copy of every row per beam: [batch_size * beams, ...].
        tokens, prompt_mask, limits = (
            tf.repeat(t, beams, axis=0) for t in (tokens, prompt_mask, limits))
        cache = steps.initial_cache(weights, tokens)
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
            logits, cache = steps.next_logits(weights, tokens, cache, index)
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


def _decoder(causal_lm, steps, config, stop_token_ids, fill_token_id,
             jit_compile):
    # The model's variables are part of the key: a loop traced before
    # `quantize("int8")` or a PEFT method replaced layers would still read
    # the old variables (and the lean step may no longer apply).
    key = (config.strategy, config.temperature, config.top_k, config.top_p,
           config.num_beams, config.use_cache, tuple(stop_token_ids),
           fill_token_id, jit_compile, type(steps).__name__,
           tuple(id(v) for v in causal_lm.weights))
    decoders = _DECODERS.setdefault(causal_lm, {})
    if decoders and next(iter(decoders))[-1] != key[-1]:
        decoders.clear()  # loops of replaced variables: free them
    if key not in decoders:
        build = _beam_loop if config.strategy == "beam" else _sampling_loop
        loop = build(steps, config, tuple(stop_token_ids), fill_token_id)
        if isinstance(steps, _LlamaSteps):
            # The lean step is built for XLA: the whole loop is one XLA
            # program (cache updated in place, element-wise work fused),
            # and the weights come in as arguments, read from the
            # variables by an outer graph at every call.
            compiled = tf.function(loop, jit_compile=True,
                                   reduce_retracing=True)
            decoders[key] = tf.function(
                lambda *args: compiled(steps.weights(), *args),
                reduce_retracing=True)
        else:
            compiled = tf.function(loop, jit_compile=jit_compile,
                                   reduce_retracing=True)
            decoders[key] = lambda *args: compiled((), *args)
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
            Float32 Llama-family models (SmolLM2, Llama 3) without PEFT
            layers, with the cache on, always
            decode through `tfllm.generation.llama_step` in one XLA program
            (1.6-2.4x the tokens/s of KerasHub's step at batch 1, 6-7.6x at
            batch 8 on a 2-core Xeon; BENCHMARKS.md), whatever this says.

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
    steps = _steps(causal_lm, config.use_cache)
    if isinstance(steps, _LlamaSteps):
        # XLA compiles one program per buffer shape: widths rounded up to
        # a multiple of 64 slots let prompts of similar lengths share it.
        # The extra slots are never reached (each row stops at its limit)
        # and never attended to (they lie after every query position).
        extra = -token_ids.shape[1] % _XLA_WIDTH_MULTIPLE
        token_ids = np.pad(token_ids, [(0, 0), (0, extra)],
                           constant_values=fill_token_id)
        prompt_mask = np.pad(prompt_mask, [(0, 0), (0, extra)])
    decode = _decoder(causal_lm, steps, config, stop_token_ids,
                      fill_token_id, jit_compile)
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
