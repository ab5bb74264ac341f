"""Where a LiteRT decode step of SmolLM2-135M spends its time, by ablation.

The Python `ai-edge-litert` wheel exposes no per-operator profiler (the C++
`benchmark_model` tool is not shipped), so this script measures the parts
by exporting variants of the same model and timing the `decode` signature's
`Invoke` alone (median of `--steps` calls after a warm-up, `--threads`
threads), with the recipe of `--recipe`:

- the full model (30 layers) at each `--cache-lengths` cache size: the
  slope over cache slots is the attention over the cache;
- the model cut to its first transformer layer: the full model's time
  minus it, over 29, is one layer; it minus one layer is the embedding
  lookup, final norm and LM head;
- the full model's engine step (`LiteRTCausalLM.decode`: writing the new
  keys/values in place, copying the logits), for the Python overhead.

Usage: python scripts/profile_litert_decode.py [--recipe dynamic_int8]
       [--cache-lengths 128,256,512] [--threads 2]
Prints one JSON object (also written to --output).
"""

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def time_invoke(path, threads, steps):
    """`(invoke ms, engine step ms)`, medians, for one `.tflite` file."""
    from tfllm.inference.litert_lm import LiteRTCausalLM

    engine = LiteRTCausalLM(path, num_threads=threads)
    decode = engine._signatures["decode"]  # noqa: SLF001
    engine.prefill(list(range(3, 3 + min(64, engine.max_length // 2))))
    engine.decode(7)  # sets the decode signature's token and position
    engine.position -= 1
    for _ in range(5):
        engine._wrapper.Invoke(decode["index"])  # noqa: SLF001
    invokes = []
    for _ in range(steps):
        start = time.perf_counter()
        engine._wrapper.Invoke(decode["index"])  # noqa: SLF001
        invokes.append(time.perf_counter() - start)
    steps_timed = []
    position = engine.position
    for _ in range(steps):
        engine.position = position  # decode the same slot again
        start = time.perf_counter()
        engine.decode(7)
        steps_timed.append(time.perf_counter() - start)
    return (1000 * statistics.median(invokes),
            1000 * statistics.median(steps_timed))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", default="dynamic_int8")
    parser.add_argument("--cache-lengths", default="128,256,512")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--output", default=str(
        pathlib.Path(tempfile.gettempdir()) / "profile_litert_decode.json"))
    args = parser.parse_args()

    from tfllm.checkpoints.gguf import load_gguf_causal_lm
    from tfllm.export import litert_causal_lm
    from tfllm.utils.machine import machine_description

    lm, _ = load_gguf_causal_lm()
    report = {"machine": machine_description(), "recipe": args.recipe,
              "threads": args.threads, "full_model": {}}
    folder = pathlib.Path(tempfile.mkdtemp(prefix="profile_litert_"))

    def export(max_length, layers=None):
        module = litert_causal_lm.LlamaSignatures(lm, max_length)
        if layers is not None:
            module.layers = module.layers[:layers]
            module.num_layers = layers
        content = litert_causal_lm.convert(module, (8,))
        if args.recipe != "fp32":
            content = litert_causal_lm.quantize(content, args.recipe,
                                                module.hidden)
        path = folder / f"m{max_length}_{layers}.tflite"
        path.write_bytes(content)
        return path

    for length in [int(n) for n in args.cache_lengths.split(",")]:
        invoke, step = time_invoke(export(length), args.threads, args.steps)
        report["full_model"][length] = {"invoke_ms": round(invoke, 3),
                                        "engine_step_ms": round(step, 3)}
        print(length, report["full_model"][length], flush=True)
    smallest = min(int(n) for n in args.cache_lengths.split(","))
    one_layer, _ = time_invoke(export(smallest, layers=1), args.threads,
                               args.steps)
    report["one_layer_invoke_ms"] = round(one_layer, 3)
    lengths = sorted(report["full_model"])
    first, last = lengths[0], lengths[-1]
    full = report["full_model"][first]["invoke_ms"]
    layers = lm.backbone.num_layers
    per_layer = (full - one_layer) / (layers - 1)
    per_slot = ((report["full_model"][last]["invoke_ms"]
                 - report["full_model"][first]["invoke_ms"]) / (last - first))
    report["derived"] = {
        "attention_over_cache_ms_per_256_slots": round(256 * per_slot, 3),
        f"one_transformer_layer_ms_at_{first}_slots": round(per_layer, 3),
        "lm_head_embedding_final_norm_ms": round(one_layer - per_layer, 3),
        "python_overhead_ms_per_step": round(np.mean([
            v["engine_step_ms"] - v["invoke_ms"]
            for v in report["full_model"].values()]), 3)}
    print(json.dumps(report, indent=2))
    pathlib.Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
