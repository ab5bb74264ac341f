"""LiteRT generation beside TensorFlow and llama.cpp: the measurements of
`scripts/bench_generation.py --engine litert [--peer llamacpp]`.

Every engine decodes the same SmolLM2-135M-Instruct GGUF source (tfllm
dequantises it to float32 and exports LiteRT recipes from that; llama.cpp
reads the Q4_1 file itself), the same prompt token ids (the first
`--prompt-tokens` tokens of tiny_shakespeare), greedily, for the same number
of new tokens, on the same thread count, batch 1. Each LiteRT recipe and
llama.cpp runs in its own process (no TensorFlow loaded there), so peak RSS
is the engine's own.

Per engine: time to first token (the whole prompt processed and the first
token chosen), prefill tokens/s (prompt tokens over that time), decode
tokens/s (the tokens after the first over their time), the median of
`--repeats` runs after a warm-up; peak RSS; file size; perplexity on
tiny_shakespeare (the windows of `bench_generation.perplexity`, scored
token by token through the KV cache); the greedy tokens, and how many
agree with TensorFlow's float32 greedy tokens.
"""

import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def _log_softmax(logits):
    logits = logits.astype(np.float64)
    top = logits.max()
    return logits - top - np.log(np.exp(logits - top).sum())


def _median_runs(run, repeats):
    run()  # warm-up
    results = [run() for _ in range(repeats)]
    keys = results[0][0].keys()
    return ({k: statistics.median(r[0][k] for r in results) for k in keys},
            results[-1][1])


def peak_rss_mb():
    """This process's peak resident set size (`VmHWM`, MB). Not
    `getrusage`, whose maximum survives `exec` and would report the
    parent's peak in a child."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timings(ttft, decode_seconds, prompt_length, new_tokens):
    return {"time_to_first_token_s": ttft,
            "prefill_tokens_per_s": prompt_length / ttft,
            "decode_tokens_per_s": (new_tokens - 1) / decode_seconds}


def litert_worker(model, prompt_ids, new_tokens, threads, repeats, windows):
    """One LiteRT model: timings, peak RSS, perplexity (run in a child)."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from tfllm.inference.litert_lm import LiteRTCausalLM

    start = time.perf_counter()
    engine = LiteRTCausalLM(model, num_threads=threads)
    open_seconds = time.perf_counter() - start

    def run():
        start = time.perf_counter()
        logits = engine.logits_after(prompt_ids)
        tokens = [int(np.argmax(logits))]
        ttft = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(new_tokens - 1):
            tokens.append(int(np.argmax(engine.decode(tokens[-1]))))
        seconds = time.perf_counter() - start
        return _timings(ttft, seconds, len(prompt_ids), new_tokens), tokens

    timings, tokens = _median_runs(run, repeats)
    total, count = 0.0, 0
    for row in windows:
        engine.reset()
        for position in range(len(row) - 1):
            total -= _log_softmax(engine.decode(row[position]))[
                row[position + 1]]
            count += 1
    return {**timings, "tokens": tokens, "open_s": open_seconds,
            "perplexity": float(np.exp(total / count)),
            "peak_rss_mb": peak_rss_mb(),
            "file_mb": pathlib.Path(model).stat().st_size / 1e6}


def llamacpp_worker(model, prompt_ids, new_tokens, threads, repeats,
                    windows):
    """llama.cpp on the GGUF file: the same measurements (run in a child)."""
    from llama_cpp import Llama

    context = max(len(prompt_ids) + new_tokens, len(windows[0])) + 8
    # Timed without `logits_all` (prefill computes the last row's logits
    # only, as LiteRT's prefill computes none); perplexity with it.
    llm = Llama(model_path=str(model), n_threads=threads,
                n_threads_batch=threads, n_ctx=context, n_batch=512,
                verbose=False)

    vocabulary = llm.n_vocab()

    def last_logits():
        # Without `logits_all`, llama-cpp-python keeps no scores: read the
        # context's logits of the last evaluated token.
        return np.ctypeslib.as_array(llm._ctx.get_logits(),  # noqa: SLF001
                                     shape=(vocabulary,))

    def run():
        llm.reset()
        start = time.perf_counter()
        llm.eval(prompt_ids)
        tokens = [int(np.argmax(last_logits()))]
        ttft = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(new_tokens - 1):
            llm.eval([tokens[-1]])
            tokens.append(int(np.argmax(last_logits())))
        seconds = time.perf_counter() - start
        return _timings(ttft, seconds, len(prompt_ids), new_tokens), tokens

    timings, tokens = _median_runs(run, repeats)
    timed_rss = peak_rss_mb()
    del llm
    llm = Llama(model_path=str(model), n_threads=threads,
                n_threads_batch=threads, n_ctx=context, n_batch=512,
                logits_all=True, verbose=False)
    total, count = 0.0, 0
    for row in windows:
        llm.reset()
        llm.eval(row[:-1])
        scores = np.asarray(llm.scores[:len(row) - 1])
        for position in range(len(row) - 1):
            total -= _log_softmax(scores[position])[row[position + 1]]
            count += 1
    return {**timings, "tokens": tokens,
            "perplexity": float(np.exp(total / count)),
            "peak_rss_mb": timed_rss,
            "file_mb": pathlib.Path(model).stat().st_size / 1e6}


WORKERS = {"litert": litert_worker, "llamacpp": llamacpp_worker}


def run_worker(kind, **job):
    """Runs `WORKERS[kind](**job)` in a child process; returns its dict."""
    done = subprocess.run(
        [sys.executable, __file__, kind, json.dumps(job)],
        capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed (exit {done.returncode}): "
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def tf_measurements(causal_lm, prompt_ids, new_tokens, repeats):
    """TensorFlow's lean XLA decoding of the same prompt (this process)."""
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    def timed(count):
        config = GenerationConfig(max_new_tokens=count)
        generate(causal_lm, [prompt_ids], config)  # compile / warm
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            out = generate(causal_lm, [prompt_ids], config)[0]
            best = min(best, time.perf_counter() - start)
        return best, [int(t) for t in out]

    ttft, _ = timed(1)
    total, tokens = timed(new_tokens)
    return {**_timings(ttft, total - ttft, len(prompt_ids), new_tokens),
            "tokens": tokens, "peak_rss_mb": peak_rss_mb()}


def agreeing_prefix(a, b):
    """How many leading tokens of `a` and `b` are equal."""
    return len(os.path.commonprefix([list(a), list(b)]))


if __name__ == "__main__":
    print(json.dumps(WORKERS[sys.argv[1]](**json.loads(sys.argv[2]))))
