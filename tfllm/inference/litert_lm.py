"""Decoding with a LiteRT causal LM exported by
`tfllm.export.litert_causal_lm`, on the LiteRT interpreter (XNNPACK).

The key/value cache lives in the interpreter's own input tensors: the
`decode` signature's `kv_cache_*` buffers are the cache. Each call returns
the new keys/values of its tokens, and they are written into those buffers
in place through numpy views (`InterpreterWrapper.tensor`), so a step moves
`layers x 2 x kv_heads x head_dim` floats, never the whole cache. A
prefill signature's cache buffers are brought up to date (slots written
since its last call) just before it runs.

TensorFlow is not imported: the engine needs `ai-edge-litert` and numpy.
Sampling (temperature, top-k, top-p) is done in numpy with the same rules as
`tfllm.generation.sampling` (a token is kept by top-p while the mass of the
tokens ranked above it is below `top_p`).
"""

import json
import pathlib

import numpy as np

from tfllm.data.errors import UserInputError


class CacheFullError(UserInputError):
    """A position past the exported cache length was asked for (a
    `ValueError`; the CLI prints it as a one-line error)."""


class LiteRTCausalLM:
    """A LiteRT causal LM with prefill/decode signatures and its KV cache.

    Args:
        model: str or path. A `.tflite` file written by
            `tfllm.export.litert_causal_lm.export_causal_lm`, or the bundle
            folder holding it (`generation.json` names the file).
        num_threads: int or None. Interpreter and XNNPACK threads (None: 1
            per CPU core, as llama.cpp's default).
        recipe: str or None. With a bundle folder, which of its models
            (`fp32`, `dynamic_int8`, ...); None: the bundle's first.

    Raises:
        FileNotFoundError: no model file there.
        ValueError: the file lacks the `decode` or `prefill_<N>` signatures,
            or the bundle has no model for `recipe`.
    """

    def __init__(self, model, num_threads=None, recipe=None):
        import os

        from ai_edge_litert.interpreter import Interpreter

        path = pathlib.Path(model)
        self.settings = {}
        if path.is_dir():
            settings_file = path / "generation.json"
            if not settings_file.is_file():
                raise FileNotFoundError(
                    f"{settings_file}: no generation.json; pass the bundle "
                    "folder written by `tfllm export --task causal-lm "
                    "--format litert` or a .tflite file")
            self.settings = json.loads(settings_file.read_text())
            files = self.settings.get("model_files", {})
            if recipe is None:
                path = path / self.settings["model_file"]
            elif recipe in files:
                path = path / files[recipe]
            else:
                raise UserInputError(
                    f"{settings_file}: no {recipe!r} model; the bundle has "
                    f"{sorted(files)} (export it with --recipes)")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no LiteRT model file")
        self.path = path
        self.num_threads = int(num_threads or os.cpu_count() or 1)
        from tfllm.utils.logging import quiet_litert_logs

        with quiet_litert_logs():
            self.interpreter = Interpreter(
                model_path=str(path), num_threads=self.num_threads,
                experimental_default_delegate_latest_features=True)
        self._wrapper = self.interpreter._interpreter  # noqa: SLF001
        signatures = self.interpreter.get_signature_list()
        if "decode" not in signatures:
            raise ValueError(f"{path}: no 'decode' signature (has "
                             f"{sorted(signatures)}); not a tfllm LiteRT "
                             "causal LM export")
        self.prefill_lengths = sorted(
            int(key.split("_")[1]) for key in signatures
            if key.startswith("prefill_"))
        if not self.prefill_lengths:
            raise ValueError(f"{path}: no 'prefill_<N>' signatures")
        self._signatures = {}
        for key in signatures:
            self._signatures[key] = self._open(key)
        decode = self._signatures["decode"]
        self.num_layers = len(decode["cache"]) // 2
        shape = decode["cache"][("k", 0)].shape
        self.kv_heads, self.max_length, self.head_dim = shape[1:]
        self.vocabulary_size = decode["logits"]().shape[-1]
        # Fresh tensor buffers hold whatever memory they got (NaNs too): a
        # masked slot gets probability 0, but 0 x NaN is NaN, so every
        # cache starts zeroed; later it holds only finite old values.
        for entry in self._signatures.values():
            for view in entry["cache"].values():
                view.fill(0.0)
        self.reset()

    def _open(self, key):
        runner = self.interpreter.get_signature_runner(key)
        index = runner._subgraph_index  # noqa: SLF001
        self._wrapper.AllocateTensors(index)
        inputs = runner.get_input_details()
        outputs = runner.get_output_details()

        def view(tensor_index):
            return self._wrapper.tensor(self._wrapper, tensor_index, index)

        entry = {"index": index, "cache": {}, "new": {}, "synced": 0,
                 "tokens": view(inputs["tokens"]["index"]),
                 "input_pos": view(inputs["input_pos"]["index"]),
                 "length": int(inputs["tokens"]["shape"][1])}
        for name, detail in inputs.items():
            if name.startswith("kv_cache_"):
                kind, layer = name.split("_")[2:]
                entry["cache"][(kind, int(layer))] = view(detail["index"])
        for name, detail in outputs.items():
            if name == "logits":
                entry["logits"] = lambda i=detail["index"]: (
                    self._wrapper.tensor(self._wrapper, i, index))
            else:
                kind, layer = name.split("_")
                entry["new"][(kind, int(layer))] = view(detail["index"])
        return entry

    def reset(self):
        """Forgets the cached sequence (the next prefill starts at 0)."""
        self.position = 0
        for entry in self._signatures.values():
            entry["synced"] = 0

    def _run(self, entry, tokens, start, count):
        """Runs one signature on `tokens` at positions `start..`; writes the
        first `count` new key/value columns into the decode cache."""
        if start + count > self.max_length:
            raise CacheFullError(
                f"position {start + count - 1} is past the cache: the model "
                f"was exported with {self.max_length} cache slots (prompt "
                "plus generated tokens); export with a larger --max-length")
        length = entry["length"]
        decode = self._signatures["decode"]
        if entry is not decode and entry["synced"] < start:
            done = entry["synced"]
            for key, view in entry["cache"].items():
                view[:, :, done:start] = decode["cache"][key][:, :, done:start]
        positions = np.minimum(np.arange(start, start + length),
                               self.max_length - 1)
        entry["input_pos"][:] = positions
        entry["tokens"][0, :count] = tokens
        entry["tokens"][0, count:] = 0
        self._wrapper.Invoke(entry["index"])
        for key, new in entry["new"].items():
            decode["cache"][key][:, :, start:start + count] = new[:, :, :count]
        if entry is not decode:
            entry["synced"] = start
        self.position = start + count

    def prefill(self, token_ids):
        """Writes `token_ids` (list of int) into the cache after the current
        position, in chunks of the prefill buckets (the smallest bucket
        that holds the rest; the largest bucket while more remain).

        Raises:
            CacheFullError: the tokens do not fit in the cache.
        """
        token_ids = list(token_ids)
        while token_ids:
            fits = [n for n in self.prefill_lengths if n >= len(token_ids)]
            length = fits[0] if fits else self.prefill_lengths[-1]
            chunk = token_ids[:length]
            self._run(self._signatures[f"prefill_{length}"], chunk,
                      self.position, len(chunk))
            token_ids = token_ids[length:]

    def decode(self, token_id):
        """Feeds one token at the current position.

        Returns:
            numpy float32 `[vocabulary_size]`: next-token logits (a copy).

        Raises:
            CacheFullError: the cache is full.
        """
        decode = self._signatures["decode"]
        self._run(decode, [token_id], self.position, 1)
        return np.array(decode["logits"]()[0])

    def logits_after(self, token_ids):
        """Resets, prefills all tokens but the last and decodes the last.

        Returns:
            numpy float32 `[vocabulary_size]`: logits for the next token.
        """
        token_ids = list(token_ids)
        if not token_ids:
            raise ValueError("empty prompt: at least one token id needed")
        self.reset()
        self.prefill(token_ids[:-1])
        return self.decode(token_ids[-1])

    def stream(self, prompt_ids, max_new_tokens=32, temperature=0.0,
               top_k=0, top_p=1.0, stop_token_ids=(), seed=0):
        """Yields generated token ids one at a time (streaming).

        Args:
            prompt_ids: list of int. The prompt's token ids.
            max_new_tokens: int. Upper bound on generated tokens.
            temperature: float. 0 (default): greedy (argmax); > 0: sample
                from softmax(logits / temperature) after top-k / top-p.
            top_k: int. Keep the k most likely tokens (0: all).
            top_p: float in (0, 1]. Nucleus filter (1.0: off).
            stop_token_ids: iterable of int. Generation ends after one of
                these (it is yielded).
            seed: int. Seeds sampling.

        Raises:
            CacheFullError: prompt plus `max_new_tokens` exceed the cache
                (checked before anything runs).
            ValueError: empty prompt or bad sampling settings.
        """
        prompt_ids = list(prompt_ids)
        if len(prompt_ids) + max_new_tokens > self.max_length:
            raise CacheFullError(
                f"{len(prompt_ids)} prompt tokens + {max_new_tokens} new "
                f"tokens exceed the {self.max_length} cache slots this "
                "model was exported with; export with a larger "
                "--max-length or ask for fewer tokens")
        if temperature < 0 or not 0 < top_p <= 1 or top_k < 0:
            raise ValueError("need temperature >= 0, 0 < top_p <= 1 and "
                             "top_k >= 0")
        rng = np.random.default_rng(seed)
        stops = set(int(t) for t in stop_token_ids)
        logits = self.logits_after(prompt_ids)
        for step in range(max_new_tokens):
            token = choose_token(logits, temperature, top_k, top_p, rng)
            yield token
            if token in stops or step == max_new_tokens - 1:
                return
            logits = self.decode(token)

    def generate(self, prompt_ids, **settings):
        """`list(self.stream(prompt_ids, **settings))`."""
        return list(self.stream(prompt_ids, **settings))


def choose_token(logits, temperature=0.0, top_k=0, top_p=1.0, rng=None):
    """The next token from float32 `[vocabulary_size]` logits.

    Greedy (argmax, first maximum) when `temperature` is 0; otherwise a draw
    from softmax(logits / temperature) restricted to the `top_k` most
    likely tokens and to the nucleus of mass `top_p` (Holtzman et al.,
    2020, "The Curious Case of Neural Text Degeneration").
    """
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    order = np.argsort(-scaled, kind="stable")
    if top_k:
        order = order[:top_k]
    ranked = scaled[order]
    probabilities = np.exp(ranked - ranked.max())
    probabilities /= probabilities.sum()
    if top_p < 1.0:
        before = np.cumsum(probabilities) - probabilities
        keep = before < top_p
        order, probabilities = order[keep], probabilities[keep]
        probabilities /= probabilities.sum()
    rng = rng or np.random.default_rng()
    return int(order[rng.choice(len(order), p=probabilities)])
