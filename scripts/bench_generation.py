"""Benchmark: SmolLM2 greedy answer, generation tokens/s with and without
the KV cache, and supervised fine-tuning steps of SmolLM2.

Usage: python scripts/bench_generation.py [--new-tokens 32] [--sft-steps 6]
       python scripts/bench_generation.py --quick --peer llamacpp [--threads N]
       python scripts/bench_generation.py --sft-only --sft-peft lora \
           --sft-peft-config r=8,lora_alpha=16 --sft-learning-rate 2e-4
       python scripts/bench_generation.py --quick --perplexity [--quantize int8]
       python scripts/bench_generation.py --engine tf,litert --peer llamacpp \
           --threads 2 --new-tokens 64
Prints one JSON object (also written to --output). With --sft-peft the
SFT steps train only the method's weights, and the adapter is saved to a
temporary folder to report its size in bytes.

`--peer llamacpp` also decodes the same GGUF file with llama.cpp
(llama-cpp-python, the `bench` extra; pip builds it with the machine's
compiler): the same prompt token ids, greedy, the same number of new tokens
and the same thread count (`--threads`, default: every CPU, which is what
TensorFlow's intra-op pool uses), batch 1; it reports both tokens/s, their
ratio (tfllm / llama.cpp) and whether the greedy tokens agree; and the same
at batch 8 (`--peer-batch-sizes`; eight copies of the prompt, llama.cpp
through its C batch API with one sequence per row).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from tfllm.utils.machine import machine_description

PAIRS = [
    ("Where is my order #1042?", "I'm sorry for the wait. Order #1042 "
     "shipped yesterday and should arrive within 2 business days."),
    ("How do I reset my password?", "Click 'Forgot password' on the sign-in "
     "page and follow the link we email you."),
    ("Can I return a jacket I bought last week?", "Yes. Items can be "
     "returned within 30 days; start the return from your orders page."),
    ("My card was charged twice.", "I'm sorry about that. I've flagged the "
     "duplicate charge; the refund appears within 5 business days."),
    ("Do you ship to Canada?", "Yes, we ship to Canada. Delivery takes 5 to "
     "8 business days."),
    ("How can I change my delivery address?", "Open the order, choose "
     "'Edit address' before it ships, and save the new address."),
    ("Is there a warranty on headphones?", "All headphones carry a one-year "
     "warranty against manufacturing defects."),
    ("I want to cancel my subscription.", "I can help. Go to Account > "
     "Subscription and choose 'Cancel'; you keep access until the period "
     "ends."),
]
PROMPTS = ["The capital of France is", "Once upon a time",
           "The three primary colours are", "Water boils at"]


def _best_time(run, repeats):
    """`(fastest wall seconds of `repeats` calls, last result)` after one
    untimed warm-up call (tracing, compiling, caches)."""
    run()
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def _time_generation(lm, ids, config, repeats=2):
    from tfllm.generation import generate

    best, out = _best_time(lambda: generate(lm, ids, config), repeats)
    tokens = sum(len(o) for o in out)
    return {"seconds": round(best, 3), "new_tokens": tokens,
            "tokens_per_second": round(tokens / best, 2)}


def bench_generation(lm, tokenizer, new_tokens, batches=("batch1", "batch4"),
                     repeats=2):
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    ids = np.asarray(tokenizer(PROMPTS[0])).tolist()
    answer = generate(lm, [ids], GenerationConfig(max_new_tokens=8))[0]
    text = tokenizer.detokenize(answer)
    results = {"prompt": PROMPTS[0], "greedy_continuation": text,
               "paris": "Paris" in text}
    batch = [np.asarray(tokenizer(p)).tolist() for p in PROMPTS]
    cases = {"batch1": [ids], "batch4": batch}
    for name in batches:
        prompts = cases[name]
        for use_cache in (True, False):
            config = GenerationConfig(max_new_tokens=new_tokens,
                                      use_cache=use_cache)
            key = f"{name}_{'cache' if use_cache else 'no_cache'}"
            results[key] = _time_generation(lm, prompts, config, repeats)
            print(key, results[key], flush=True)
    return results


def perplexity(lm, tokenizer, windows=8, length=256, data_dir=None):
    """Perplexity of `lm` on the last `windows * length` tokens of
    tiny_shakespeare (`../shared/data/tiny_shakespeare/input.txt`).

    Each window of `length + 1` tokens is scored on its `length` next-token
    predictions from position 0 (no context across windows).

    Returns:
        dict: `perplexity` (exp of the mean cross-entropy in nats per
        token), `tokens` scored and `source`.
    """
    import tensorflow as tf

    from tfllm.evaluation.language_model import evaluate_language_model

    rows, source = perplexity_rows(tokenizer, windows, length, data_dir)
    inputs = rows[:, :-1]
    dataset = tf.data.Dataset.from_tensor_slices((
        {"token_ids": inputs, "padding_mask": np.ones_like(inputs)},
        rows[:, 1:], np.ones(inputs.shape, np.float32))).batch(1)
    scores = evaluate_language_model(lm, dataset)
    return {"perplexity": round(scores["perplexity"], 3),
            "tokens": scores["tokens"],
            "source": source}


def tiny_shakespeare_text(data_dir=None):
    """The text of `tiny_shakespeare/input.txt` (exits if it is absent)."""
    from tfllm.data.locate import find_dataset_dir

    folder = find_dataset_dir("tiny_shakespeare", data_dir,
                              required_files=("input.txt",))
    if folder is None:
        sys.exit("error: tiny_shakespeare not found; set TFLLM_DATA_DIR")
    return (folder / "input.txt").read_text(encoding="utf-8"), folder


def perplexity_rows(tokenizer, windows=8, length=256, data_dir=None):
    """`(rows, source)`: int32 `[windows, length + 1]` token windows from
    the end of tiny_shakespeare, and a description of them."""
    text, folder = tiny_shakespeare_text(data_dir)
    ids = np.asarray(tokenizer(text[-(windows * length * 8):])).tolist()
    span = windows * (length + 1)
    if len(ids) < span:
        raise ValueError(f"only {len(ids)} tokens for {span}")
    rows = np.array(ids[-span:], np.int32).reshape(windows, length + 1)
    return rows, (f"{folder / 'input.txt'}, last {span} tokens, "
                  f"{windows} windows of {length}")


def bench_llamacpp(gguf_path, prompt_ids, new_tokens, threads, repeats=2):
    """Greedy decoding of `prompt_ids` by llama.cpp at batch 1.

    Args:
        gguf_path: str. The GGUF file tfllm loads too.
        prompt_ids: list of int. The prompt's token ids (tfllm's tokenizer,
            so both sides read the same tokens).
        new_tokens: int. Tokens generated after the prompt.
        threads: int. llama.cpp threads (decode and prompt).
        repeats: int. Timed runs; the fastest counts.

    Returns:
        dict: `seconds`, `new_tokens`, `tokens_per_second` (new tokens over
        the wall time of prompt processing plus decoding, as tfllm's
        figure) and `tokens` (the greedy ids).
    """
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf_path), n_threads=threads,
                n_threads_batch=threads, n_ctx=512, verbose=False)

    def run():
        llm.reset()
        out = []
        for token in llm.generate(prompt_ids, top_k=1, top_p=1.0, temp=0.0,
                                  repeat_penalty=1.0, reset=True):
            out.append(int(token))
            if len(out) == new_tokens:
                break
        return out

    best, tokens = _best_time(run, repeats)
    return {"seconds": round(best, 3), "new_tokens": len(tokens),
            "tokens_per_second": round(len(tokens) / best, 2),
            "tokens": tokens}


def bench_llamacpp_batched(gguf_path, prompt_ids, new_tokens, threads,
                           batch_size, repeats=2):
    """Greedy decoding of `batch_size` copies of a prompt by llama.cpp.

    llama-cpp-python's `Llama` decodes one sequence; batches go through
    the C API (`llama_batch` with one sequence id per row, one
    `llama_decode` per step for all rows), as llama.cpp's own
    `batched` example does.

    Args:
        gguf_path, prompt_ids, new_tokens, threads, repeats: as
            `bench_llamacpp`.
        batch_size: int. Sequences decoded together.

    Returns:
        dict: `seconds`, `new_tokens` (all rows), `tokens_per_second` (new
        tokens of all rows over the wall time of prompt processing plus
        decoding) and `tokens` (row 0's greedy ids).
    """
    import ctypes

    import llama_cpp as C

    C.llama_backend_init()
    model = C.llama_model_load_from_file(
        str(gguf_path).encode(), C.llama_model_default_params())
    params = C.llama_context_default_params()
    params.n_ctx = batch_size * (len(prompt_ids) + new_tokens + 8)
    params.n_batch = max(512, batch_size * len(prompt_ids))
    params.n_seq_max = batch_size
    params.n_threads = params.n_threads_batch = threads
    context = C.llama_init_from_model(model, params)
    vocabulary_size = C.llama_vocab_n_tokens(C.llama_model_get_vocab(model))
    batch = C.llama_batch_init(batch_size * len(prompt_ids), 0, batch_size)

    def fill(entries):  # entries: (token, position, sequence, wants logits)
        batch.n_tokens = len(entries)
        for i, (token, position, sequence, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequence
            batch.logits[i] = logits
        if C.llama_decode(context, batch) != 0:
            raise RuntimeError("llama_decode failed")

    def greedy(index):
        row = C.llama_get_logits_ith(context, index)
        logits = np.ctypeslib.as_array(
            ctypes.cast(row, ctypes.POINTER(ctypes.c_float)),
            shape=(vocabulary_size,))
        return int(np.argmax(logits))

    def run():
        C.llama_memory_clear(C.llama_get_memory(context), True)
        last = len(prompt_ids) - 1
        fill([(t, p, s, p == last) for s in range(batch_size)
              for p, t in enumerate(prompt_ids)])
        rows = [[greedy(s * len(prompt_ids) + last)]
                for s in range(batch_size)]
        for step in range(1, new_tokens):
            fill([(rows[s][-1], last + step, s, True)
                  for s in range(batch_size)])
            for s in range(batch_size):
                rows[s].append(greedy(s))
        return rows

    best, rows = _best_time(run, repeats)
    C.llama_batch_free(batch)
    C.llama_free(context)
    C.llama_model_free(model)
    produced = sum(len(r) for r in rows)
    return {"seconds": round(best, 3), "new_tokens": produced,
            "tokens_per_second": round(produced / best, 2),
            "tokens": rows[0],
            "rows_identical": all(r == rows[0] for r in rows)}


def _run_worker(kind, **job):
    """Runs a llama.cpp measurement in a child process (see bench_peer)."""
    done = subprocess.run(
        [sys.executable, __file__, f"--llamacpp-{kind}-worker",
         json.dumps(job)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"llama.cpp worker failed (exit "
                           f"{done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_peer(lm, tokenizer, new_tokens, threads, repeats=2,
               batch_sizes=(1, 8)):
    """tfllm and llama.cpp side by side on one prompt, batch 1, greedy."""
    from tfllm.checkpoints.gguf import smollm2_path
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    ids = np.asarray(tokenizer(PROMPTS[0])).tolist()
    config = GenerationConfig(max_new_tokens=new_tokens)
    # llama.cpp runs in its own process: ggml and TensorFlow each bring
    # their own OpenMP / oneDNN thread pools, and one process would time
    # them fighting over the cores.
    job = {"gguf_path": str(smollm2_path()), "prompt_ids": ids,
           "new_tokens": new_tokens, "threads": threads, "repeats": repeats}
    report = {"threads": threads, "prompt": PROMPTS[0]}
    our_tokens = [int(t) for t in generate(lm, [ids], config)[0]]
    for size in batch_sizes:
        ours = _time_generation(lm, [ids] * size, config, repeats)
        if size == 1:
            theirs = _run_worker("single", **job)
        else:
            theirs = _run_worker("batched", batch_size=size, **job)
        key = f"batch{size}"
        report[f"tfllm_{key}"] = ours
        report[f"llamacpp_{key}"] = {
            k: v for k, v in theirs.items() if k != "tokens"}
        report[f"ratio_tfllm_over_llamacpp_{key}"] = round(
            ours["tokens_per_second"] / theirs["tokens_per_second"], 3)
        if size == 1:
            agree = 0
            for a, b in zip(our_tokens, theirs["tokens"]):
                if a != b:
                    break
                agree += 1
            report.update({
                "greedy_tokens_agree": our_tokens == theirs["tokens"],
                "greedy_prefix_agreeing": agree,
                "tfllm_text": tokenizer.detokenize(our_tokens),
                "llamacpp_text": tokenizer.detokenize(theirs["tokens"]),
            })
        print(key, report[f"tfllm_{key}"], report[f"llamacpp_{key}"],
              flush=True)
    return report


def bench_sft(backbone, tokenizer, steps, batch_size, sequence_length,
              learning_rate=1e-5, peft=None, peft_config=None):
    """Times SFT steps; trains `backbone` in place (run it last)."""
    import keras

    from tfllm.peft.options import PeftArgs
    from tfllm.peft.options import apply_from_args
    from tfllm.peft.options import save_from_args

    from tfllm.data.pipeline import make_dataset
    from tfllm.data.prompt_response import PromptResponse
    from tfllm.models.sft_causal_lm import SFTCausalLM
    from tfllm.models.sft_causal_lm import evaluate_responses
    from tfllm.models.sft_causal_lm import response_loss
    from tfllm.preprocessing.prompt_response_preprocessor import (
        PromptResponsePreprocessor,
    )
    from tfllm.training.optimizers import make_adamw

    preprocessor = PromptResponsePreprocessor(tokenizer, sequence_length)
    examples = [PromptResponse(p, r) for p, r in PAIRS]
    encoded, _ = preprocessor.encode(examples)
    model = SFTCausalLM(backbone, preprocessor)
    peft_args = PeftArgs(peft, peft_config)
    peft_summary = apply_from_args(model, peft_args)
    before = evaluate_responses(model, encoded)
    model.compile(optimizer=make_adamw(learning_rate, steps, 0.0, 0.01, 1.0),
                  loss=response_loss())
    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.start)

    dataset = make_dataset(encoded, batch_size, sequence_length,
                           shuffle=True, seed=0, repeat=True,
                           accumulation_steps=1)
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=2,
              callbacks=[Timer()])
    after = evaluate_responses(model, encoded)
    if peft:
        with tempfile.TemporaryDirectory() as folder:
            peft_summary.update(save_from_args(model, peft_args, folder,
                                               "smollm2"))
        peft_summary.pop("adapter_dir", None)
    return {
        **peft_summary, "learning_rate": learning_rate,
        "pairs": len(examples), "batch_size": batch_size,
        "sequence_lengths": encoded.lengths.tolist(),
        "steps": steps, "first_step_seconds": round(times[0], 2),
        "mean_step_seconds_after_first": round(float(np.mean(times[1:])), 2),
        "response_loss_before": round(before["loss"], 4),
        "response_loss_after": round(after["loss"], 4),
    }


def bench_engines(args):
    """`--engine tf|litert[,...]`: the engines side by side (and llama.cpp
    with `--peer llamacpp`) on one prompt; see
    `scripts/bench_litert_generation.py` for what is measured."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import bench_litert_generation as side

    from tfllm.checkpoints.gguf import load_gguf_causal_lm
    from tfllm.checkpoints.gguf import smollm2_path
    from tfllm.export.litert_causal_lm import export_causal_lm

    engines = args.engine.split(",")
    recipes = args.recipes.split(",")
    lm, tokenizer = load_gguf_causal_lm()
    text, _ = tiny_shakespeare_text()
    prompt_ids = np.asarray(tokenizer(text[:4000])).tolist()[
        :args.prompt_tokens]
    rows, source = perplexity_rows(tokenizer)
    windows = rows.tolist()
    report = {"machine": machine_description(), "threads": args.threads,
              "prompt_tokens": len(prompt_ids), "new_tokens": args.new_tokens,
              "max_length": args.max_length, "perplexity_source": source,
              "engines": {}}
    report["tf_float32_perplexity"] = perplexity(lm, tokenizer)["perplexity"]
    print("TensorFlow float32 perplexity", report["tf_float32_perplexity"],
          flush=True)
    tf_result = side.tf_measurements(lm, prompt_ids, args.new_tokens,
                                     args.repeats)
    tf_tokens = tf_result["tokens"]
    if "tf" in engines:
        tf_result["perplexity"] = report["tf_float32_perplexity"]
        report["engines"]["tf float32 (XLA)"] = tf_result
        print("tf", tf_result, flush=True)
    if "litert" in engines:
        bundle = pathlib.Path(args.bundle_dir or pathlib.Path(
            tempfile.gettempdir()) / "tfllm_bench_litert")
        settings_file = bundle / "generation.json"
        settings = (json.loads(settings_file.read_text())
                    if settings_file.is_file() else {})
        if (settings.get("max_length") != args.max_length
                or set(recipes) - set(settings.get("model_files", {}))):
            settings = export_causal_lm(
                lm, bundle, tokenizer, recipes, args.max_length,
                (32, args.prompt_tokens))
        report["conversion"] = settings["conversion"]
        for recipe in recipes:
            result = side.run_worker(
                "litert", model=str(bundle / settings["model_files"][recipe]),
                prompt_ids=prompt_ids, new_tokens=args.new_tokens,
                threads=args.threads, repeats=args.repeats, windows=windows)
            report["engines"][f"litert {recipe}"] = result
            print("litert", recipe, {k: v for k, v in result.items()
                                     if k != "tokens"}, flush=True)
    if args.peer == "llamacpp":
        result = side.run_worker(
            "llamacpp", model=str(smollm2_path()), prompt_ids=prompt_ids,
            new_tokens=args.new_tokens, threads=args.threads,
            repeats=args.repeats, windows=windows)
        report["engines"]["llama.cpp Q4_1"] = result
        print("llama.cpp", {k: v for k, v in result.items()
                            if k != "tokens"}, flush=True)
    for result in report["engines"].values():
        result["greedy_agreeing_with_tf"] = side.agreeing_prefix(
            result.pop("tokens"), tf_tokens)
    report["summary"] = summarise(report, args.new_tokens)
    return report


def summarise(report, new_tokens):
    """The headline ratios: the fastest LiteRT recipe whose perplexity is
    within +5% of TensorFlow float32's, against llama.cpp."""
    engines = report["engines"]
    reference = report["tf_float32_perplexity"]
    summary = {}
    fp32 = engines.get("litert fp32")
    int8 = engines.get("litert dynamic_int8")
    if fp32 and int8:
        summary["litert_int8_perplexity_ratio_vs_fp32"] = round(
            int8["perplexity"] / fp32["perplexity"], 4)
    if fp32:
        summary["litert_fp32_perplexity_minus_tf"] = round(
            fp32["perplexity"] - reference, 4)
    within = {name: r for name, r in engines.items()
              if name.startswith("litert")
              and r["perplexity"] <= 1.05 * reference}
    peer = engines.get("llama.cpp Q4_1")
    if within and peer:
        name = max(within, key=lambda n: within[n]["decode_tokens_per_s"])
        summary["best_recipe_within_5_percent_perplexity"] = name
        summary["litert_generation_tokens_per_s_ratio_vs_llamacpp"] = round(
            within[name]["decode_tokens_per_s"]
            / peer["decode_tokens_per_s"], 3)
        summary["litert_prefill_tokens_per_s_ratio_vs_llamacpp"] = round(
            within[name]["prefill_tokens_per_s"]
            / peer["prefill_tokens_per_s"], 3)
    lines = ["| engine | decode tokens/s | prefill tokens/s | time to first "
             "token (ms) | peak RSS (MB) | file (MB) | perplexity | greedy "
             f"tokens = TF's (of {new_tokens}) |", "|---" * 8 + "|"]
    for name, r in engines.items():
        lines.append(
            f"| {name} | {r['decode_tokens_per_s']:.1f} | "
            f"{r['prefill_tokens_per_s']:.0f} | "
            f"{1000 * r['time_to_first_token_s']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r.get('file_mb', 0):.0f} | "
            f"{r.get('perplexity', float('nan')):.3f} | "
            f"{r['greedy_agreeing_with_tf']} |")
    summary["table"] = "\n".join(lines)
    print(summary["table"], flush=True)
    return summary


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--llamacpp-single-worker":
        print(json.dumps(bench_llamacpp(**json.loads(sys.argv[2]))))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--llamacpp-batched-worker":
        print(json.dumps(bench_llamacpp_batched(**json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--sft-steps", type=int, default=6)
    parser.add_argument("--sft-batch-size", type=int, default=4)
    parser.add_argument("--quick", action="store_true",
                        help="batch 1 only, one timed run, no SFT (~1.5 min)")
    parser.add_argument("--sft-only", action="store_true",
                        help="skip the generation timings")
    parser.add_argument("--sft-learning-rate", type=float, default=1e-5)
    parser.add_argument("--sft-peft", default=None,
                        help="PEFT method for the SFT steps (e.g. lora)")
    parser.add_argument("--sft-peft-config", default=None,
                        help="its settings, as train_ner.py --peft-config")
    parser.add_argument("--peer", choices=["llamacpp"], default=None,
                        help="also decode with llama.cpp (llama-cpp-python, "
                             "the bench extra), batch 1, same GGUF file")
    parser.add_argument("--peer-batch-sizes", default="1,8",
                        help="batch sizes of the side-by-side runs")
    parser.add_argument("--quantize", choices=["int8"], default=None,
                        help="Keras int8 quantization of the model before "
                             "every measurement")
    parser.add_argument("--perplexity", action="store_true",
                        help="also report perplexity on tiny_shakespeare")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="llama.cpp threads (default: every CPU)")
    parser.add_argument("--engine", default=None,
                        help="tf, litert or both (comma-separated): the "
                             "side-by-side run of decode and prefill "
                             "tokens/s, time to first token, peak RSS, file "
                             "size and perplexity per LiteRT recipe")
    parser.add_argument("--recipes", default="fp32,fp16,dynamic_int8,"
                        "weight_only_int8,dynamic_int4_block32,"
                        "dynamic_int4_block64,dynamic_int4_mlp_int8",
                        help="LiteRT recipes measured with --engine litert")
    parser.add_argument("--max-length", type=int, default=256,
                        help="LiteRT KV cache slots (prompt + new tokens "
                             "and the 256-token perplexity windows)")
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per engine (median)")
    parser.add_argument("--bundle-dir", default=None,
                        help="reuse / write the LiteRT bundle here")
    parser.add_argument("--output", default=str(
        pathlib.Path(tempfile.gettempdir()) / "bench_generation.json"))
    args = parser.parse_args()
    if args.engine:
        report = bench_engines(args)
        print(json.dumps(report, indent=2))
        pathlib.Path(args.output).write_text(json.dumps(report, indent=2)
                                             + "\n")
        return

    from tfllm.checkpoints.gguf import load_gguf_causal_lm

    start = time.perf_counter()
    lm, tokenizer = load_gguf_causal_lm()
    report = {"machine": machine_description(),
              "load_seconds": round(time.perf_counter() - start, 1)}
    if args.quantize:
        start = time.perf_counter()
        lm.quantize(args.quantize)
        report["quantize"] = {"mode": args.quantize, "seconds": round(
            time.perf_counter() - start, 1)}
    if args.perplexity:
        report["perplexity"] = perplexity(lm, tokenizer)
        print("perplexity", report["perplexity"], flush=True)
    if args.sft_only:
        pass
    elif args.quick:
        report.update(bench_generation(lm, tokenizer, args.new_tokens,
                                       ("batch1",), 1))
    else:
        report.update(bench_generation(lm, tokenizer, args.new_tokens))
    if args.peer:
        report["peer"] = bench_peer(
            lm, tokenizer, args.new_tokens, args.threads,
            batch_sizes=[int(b) for b in args.peer_batch_sizes.split(",")])
        print("peer", report["peer"], flush=True)
    if args.sft_steps and not args.quick:
        report["sft"] = bench_sft(lm.backbone, tokenizer, args.sft_steps,
                                  args.sft_batch_size, 128,
                                  args.sft_learning_rate, args.sft_peft,
                                  args.sft_peft_config)
    print(json.dumps(report, indent=2))
    pathlib.Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
