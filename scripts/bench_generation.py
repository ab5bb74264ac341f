"""Benchmark: SmolLM2 greedy answer, generation tokens/s with and without
the KV cache, and supervised fine-tuning steps of SmolLM2.

Usage: python scripts/bench_generation.py [--new-tokens 32] [--sft-steps 6]
       python scripts/bench_generation.py --quick --peer llamacpp [--threads N]
       python scripts/bench_generation.py --sft-only --sft-peft lora \
           --sft-peft-config r=8,lora_alpha=16 --sft-learning-rate 2e-4
Prints one JSON object (also written to --output). With --sft-peft the
SFT steps train only the method's weights, and the adapter is saved to a
temporary folder to report its size in bytes.

`--peer llamacpp` also decodes the same GGUF file with llama.cpp
(llama-cpp-python, the `bench` extra; pip builds it with the machine's
compiler): the same prompt token ids, greedy, the same number of new tokens
and the same thread count (`--threads`, default: every CPU, which is what
TensorFlow's intra-op pool uses), batch 1; it reports both tokens/s, their
ratio (tfllm / llama.cpp) and whether the greedy tokens agree.
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


def _time_generation(lm, ids, config, repeats=2):
    from tfllm.generation import generate

    generate(lm, ids, config)  # trace
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = generate(lm, ids, config)
        best = min(best, time.perf_counter() - start)
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

    run()  # warm-up
    best, tokens = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = run()
        best = min(best, time.perf_counter() - start)
    return {"seconds": round(best, 3), "new_tokens": len(tokens),
            "tokens_per_second": round(len(tokens) / best, 2),
            "tokens": tokens}


def bench_peer(lm, tokenizer, new_tokens, threads, repeats=2):
    """tfllm and llama.cpp side by side on one prompt, batch 1, greedy."""
    from tfllm.checkpoints.gguf import smollm2_path
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate

    ids = np.asarray(tokenizer(PROMPTS[0])).tolist()
    config = GenerationConfig(max_new_tokens=new_tokens)
    ours = _time_generation(lm, [ids], config, repeats)
    # llama.cpp runs in its own process: ggml and TensorFlow each bring
    # their own OpenMP / oneDNN thread pools, and one process would time
    # them fighting over the cores.
    job = json.dumps({"gguf_path": str(smollm2_path()), "prompt_ids": ids,
                      "new_tokens": new_tokens, "threads": threads,
                      "repeats": repeats})
    done = subprocess.run([sys.executable, __file__, "--llamacpp-worker",
                           job], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"llama.cpp worker failed (exit "
                           f"{done.returncode}): {done.stderr[-2000:]}")
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    our_tokens = [int(t) for t in generate(lm, [ids], config)[0]]
    agree = 0
    for a, b in zip(our_tokens, theirs["tokens"]):
        if a != b:
            break
        agree += 1
    return {
        "threads": threads, "prompt": PROMPTS[0],
        "tfllm_batch1": ours, "llamacpp_batch1": {
            k: v for k, v in theirs.items() if k != "tokens"},
        "ratio_tfllm_over_llamacpp": round(
            ours["tokens_per_second"] / theirs["tokens_per_second"], 3),
        "greedy_tokens_agree": our_tokens == theirs["tokens"],
        "greedy_prefix_agreeing": agree,
        "tfllm_text": tokenizer.detokenize(our_tokens),
        "llamacpp_text": tokenizer.detokenize(theirs["tokens"]),
    }


def bench_sft(backbone, tokenizer, steps, batch_size, sequence_length,
              learning_rate=1e-5, peft=None, peft_config=None):
    """Times SFT steps; trains `backbone` in place (run it last)."""
    import keras

    from tfllm.cli.peft_args import PeftArgs
    from tfllm.cli.peft_args import apply_from_args
    from tfllm.cli.peft_args import save_from_args

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


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--llamacpp-worker":
        print(json.dumps(bench_llamacpp(**json.loads(sys.argv[2]))))
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
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="llama.cpp threads (default: every CPU)")
    parser.add_argument("--output", default=str(
        pathlib.Path(tempfile.gettempdir()) / "bench_generation.json"))
    args = parser.parse_args()

    from tfllm.checkpoints.gguf import load_gguf_causal_lm

    start = time.perf_counter()
    lm, tokenizer = load_gguf_causal_lm()
    report = {"machine": machine_description(),
              "load_seconds": round(time.perf_counter() - start, 1)}
    if args.sft_only:
        pass
    elif args.quick:
        report.update(bench_generation(lm, tokenizer, args.new_tokens,
                                       ("batch1",), 1))
    else:
        report.update(bench_generation(lm, tokenizer, args.new_tokens))
    if args.peer:
        report["peer"] = bench_peer(lm, tokenizer, args.new_tokens,
                                    args.threads)
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
