"""RecBole peer of tfllm's recommender benchmark: Pop, BPR and SASRec on
MovieLens-100K, trained by RecBole 1.2.1 (PyTorch, CPU) on tfllm's own split
and scored by tfllm's own metrics.

Protocol (the same data and numbers as tfllm's side):

- Split: `tfllm.recommendation.split.leave_last_out_split`. Per user, the
  interactions are sorted by time (ties keep file order); the last one is
  the test target, the one before it the validation target, the rest is
  training. The split is written as RecBole benchmark files
  (`benchmark_filename: [train, valid, test]`) with the raw ids, in a
  temporary folder (`--workdir`; the data never enters the repository), so
  RecBole trains on exactly tfllm's training interactions:
  - Pop, BPR (general models): `<name>.{train,valid,test}.inter` with
    `user_id:token`, `item_id:token`, `timestamp:float`, one row per
    interaction.
  - SASRec (sequential): with benchmark files RecBole does NOT build the
    training sequences itself (`SequentialDataset._change_feat_format`
    skips `data_augmentation` when `benchmark_filename` is set), so the
    rows are written already augmented, as RecBole's own augmentation
    would make them: `user_id:token`, `item_id_list:token_seq` (the last
    `MAX_ITEM_LIST_LENGTH` items before the target, oldest first),
    `item_id:token` (the target), `timestamp:float`. Train rows: every
    prefix of the user's training sequence -> the next training item (only
    training interactions, in history and target). Valid row: training
    items -> validation item. Test row: training items + validation item
    -> test item, i.e. the same history tfllm's test stage uses.
    `alias_of_item_id: [item_id_list]` puts the lists in the item id space.
  - An `<name>.item` file lists all items (`item_id:token`), so RecBole's
    catalogue is the full one even for an item seen only in a test row.
- Metrics: `tfllm.recommendation.metrics.evaluate_scores` on the test
  users: full-catalogue ranking with the user's seen items (training items
  and the validation item) excluded, equal scores in tfllm's default
  seeded per-user random order (runs before 2026-12-06 19:04 used the lower
  item index first);
  Recall@10 (= HR@10 with one target), NDCG@10, Recall@50, NDCG@50,
  coverage@10. The trained RecBole model's full-catalogue scores are
  mapped from RecBole's internal ids to tfllm's indices through
  `dataset.field2id_token` / `field2token_id` (raw ids). Validation-stage
  numbers are computed the same way.
- RecBole's own test result (`trainer.evaluate(test_data)`, best validation
  checkpoint) is recorded beside them. Differences of protocol:
  - Pop and BPR: RecBole masks the same items (the sampler's used ids of
    the test phase, train + valid, minus the target), so its numbers match
    tfllm's up to tie-breaking (`torch.topk` vs. tfllm's seeded order; it
    matters for Pop, whose counts tie).
  - SASRec: RecBole's full-sort evaluation of sequential models masks
    nothing but the padding (`FullSortEvalDataLoader` returns no history
    index when `MODEL_TYPE` is sequential), so already-seen items compete
    with the target and RecBole's own figures are lower than tfllm's.
  - RecBole's own `ItemCoverage` metric is not requested: in RecBole 1.2.1
    it crashes in full-sort evaluation (`data.num_items` is stored as an
    int and `Collector.get_data_struct` calls `.cpu()` on it); coverage@10
    comes from tfllm's metrics only.
- Training: RecBole's defaults (properties/overall.yaml and the model yaml)
  except what `hyperparameters()` sets: Adam, lr 1e-3, train batch 2048,
  validation every epoch, early stopping on validation NDCG@10 with
  `stopping_step` 10, the best validation checkpoint is tested. A
  per-model wall-clock budget (`--budget-s`, default 1200 s of training
  and validation) starts no epoch that would end past it: RecBole trains
  SASRec on every prefix of every training sequence (97,171 rows, each a
  full 50-position forward and backward pass, about 2.3 CPU-seconds per
  batch of 2048 even after the speed fixes below, about 2 minutes of CPU an
  epoch), so on 2 CPU cores shared with other jobs the budget, not early
  stopping, can end SASRec's training (the JSON's `stopped_by` and
  `valid_ndcg@10_curve` show it). benchmarks/recbole_ml100k_sasrec.json:
  `--models SASRec --budget-s 2880`, 120 s an epoch, 23 epochs, stopped by
  the budget with the best validation NDCG@10 at the last epoch.
  SASRec: RecBole's defaults (2 layers, 2 heads, hidden 64, inner 256, dropout
  0.5, GELU, CE loss over the whole catalogue, no sampled negatives) with
  `MAX_ITEM_LIST_LENGTH` 50 (RecBole's default; Kang & McAuley 2018 use 200
  on ML-1M, with d=50, 1 head, dropout 0.2 and a BCE loss over one sampled
  negative). BPR: embedding 64, one uniform negative per positive. Pop:
  one counting pass (RecBole's TraditionalTrainer). CPU only (`gpu_id: ""`,
  `use_gpu: False`), seeded (`--seed`, RecBole's `init_seed` before the
  data and again before the model, `reproducibility: True`).

Runtime patches of RecBole 1.2.1 (in this process only; site-packages is
not edited):
- pandas 3: `Series.agg(len)` became the length of the whole Series (it
  was element-wise). RecBole's `Dataset._remap` (splitting a remapped
  token_seq field back per row) and `SequentialDataset._benchmark_presets`
  (`item_length` of each row) rely on the element-wise form; both run
  with a `Series.agg` that maps `len` per element for the duration of the
  call. (Without it SASRec's data fails with a length-mismatch ValueError.)
- `Config.compatibility_settings` sets `np.float = np.float_` and the like;
  NumPy 2 removed `np.float_`, `np.complex_` and `np.unicode_`, so it
  raises AttributeError. Replaced by one that sets the removed aliases
  RecBole still uses (`np.float` in its NDCG/MRR/Precision metrics and
  `Interaction`, ...) from NumPy 2 names.
- `torch.load` defaults to `weights_only=True` since torch 2.6; RecBole's
  `Trainer.evaluate(load_best_model=True)` loads its own checkpoint, which
  pickles the `Config` object, and fails. The script's `torch.load` is
  given `weights_only=False` by default (it only loads the checkpoint this
  run just wrote).

Speed (SASRec on CPU; none of it changes what is computed: the training
losses of the first steps are bit-identical with and without each fix, and
epoch 0's loss and validation NDCG@10 equal those of the run before them).
A SASRec epoch took 200-500 s (3 epochs in the 1200 s budget); the
RecBole data loader is not the cause (about 0.02 s a batch), the model's
steps were, for three reasons:
- Autograd anomaly detection was on: RecBole 1.2.1's
  `recbole/model/sequential_recommender/sine.py` calls
  `torch.autograd.set_detect_anomaly(True)` at import, and `get_model`
  imports the whole `sequential_recommender` package for SASRec (not for
  Pop or BPR). Anomaly mode records a Python traceback for every forward
  op and NaN-checks every gradient: 1.3x to 1.6x the CPU time of a step
  (4.6 s -> 3.4 s with the heap as shipped, 3.8 s -> 2.35 s with the
  malloc fix, one thread).
  `patch_recbole` imports the package and switches it off.
- glibc returned every large tensor to the OS: blocks above the mmap
  threshold (at most 32 MB) are mmap'ed and munmap'ed per allocation, and
  SASRec's activations are 26-105 MB (2048 x 50 x 256 floats for the
  feed-forward layer), so every step page-faulted its whole working set
  anew (about 0.6 million minor faults a step).
  `mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2**31-1)` keeps freed blocks in
  the heap for reuse (a few thousand faults in the first steps, none
  after): 3.4 s -> 2.35 s of CPU a step (anomaly mode off, one thread).
  The peak resident memory is about the same (4.5 GB; 4.5 GB before).
- Two OpenMP threads on 2 cores shared with other jobs: each parallel
  region waits for the descheduled thread, and the waiting thread spins;
  alternating steps of one process, 2 threads took 3.6 s of CPU and
  5.6 s of wall time a step, 1 thread 2.4 s and 3.6 s (load average about
  6). `--threads` now defaults to 1 (the first steps' losses are
  bit-identical either way).
Measured in one process, alternating steps under the same load (1-minute
load average about 6 on the 2 cores, nice 19): 12.0 s a step before, 4.7 s
after (CPU time 7.2 s -> 2.8 s; 2.35 s in a process with only the fixed
setting). What is left is the model's own work: the matrix products
(about 1.6 s a step on one core) and dropout's mask sampling (torch's CPU
`bernoulli_` takes about 20 ns an element here, 53 million elements a
step: about 1 s); nothing in RecBole's path to remove without changing the
model. (tfllm's sequence towers learn from windows of each user's
training sequence with a target at every position, about 98k positions an
epoch; RecBole's SASRec runs a 50-position pass for each of the 97k
prefixes, 4.9 million positions, about 50 times as many.)

The script imports only NumPy-level tfllm modules (`tfllm.recommendation`
`.dataset`, `.split`, `.metrics`, `tfllm.utils.machine`); TensorFlow is
not imported by them (checked at start-up).

Install (recbole 1.2.1 pins ray<=2.6.3, which has wheels up to Python 3.11
only; colorama is pinned to 0.4.4):
    pip install -e ".[bench]"     # Python <= 3.11: torch 2.13.0, recbole 1.2.1
or, in a venv of its own outside the repository (the benchmark was run so;
tfllm itself need not be installed there, the script puts the repository
on sys.path):
    python -m venv ~/.venvs/recbole
    ~/.venvs/recbole/bin/pip install numpy torch==2.13.0 recbole==1.2.1

Usage:
    ~/.venvs/recbole/bin/python scripts/recbole_peer.py \\
        --output benchmarks/recbole_ml100k.json
    ~/.venvs/recbole/bin/python scripts/recbole_peer.py --models Pop,BPR \\
        --output /tmp/quick.json
    nice -n 19 ~/.venvs/recbole/bin/python scripts/recbole_peer.py \\
        --models SASRec --budget-s 2880 \\
        --output benchmarks/recbole_ml100k_sasrec.json
"""

import argparse
import datetime
import hashlib
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from tfllm.recommendation.metrics import (  # noqa: E402
    evaluate_scores, target_ranks)
from tfllm.recommendation.split import leave_last_out_split  # noqa: E402
from tfllm.utils.machine import machine_description  # noqa: E402

# tfllm's side of this script is NumPy only (RecBole's own imports may load
# TensorFlow through tensorboard where both are installed; that is theirs).
TF_BY_TFLLM = "tensorflow" in sys.modules

MODELS = ("Pop", "BPR", "SASRec")
GENERAL_NAME = "ml100k_tfllm"          # dataset names that match no preset
SEQUENTIAL_NAME = "ml100k_tfllm_seq"   # yaml in recbole/properties/dataset
KS = (10, 50)


# --- data ------------------------------------------------------------------

def load_movielens_100k(data_dir):
    """MovieLens-100K as a `RecDataset`, read by tfllm's own reader
    (`tfllm.recommendation.readers`: items in `ml-100k.item` order, users in
    `ml-100k.user` order, interactions in file order), so both sides of the
    benchmark see the same item and user indices."""
    from tfllm.recommendation.readers import load_recommendation_dataset

    return load_recommendation_dataset("movielens-100k", data_dir)

def user_times(dataset):
    """Per user, the timestamps in the order of `split.user_sequences`."""
    order = np.lexsort((np.arange(dataset.num_interactions),
                        dataset.timestamps, dataset.users))
    users = dataset.users[order]
    bounds = np.searchsorted(users, np.arange(dataset.num_users + 1))
    times = dataset.timestamps[order]
    return [times[bounds[u]:bounds[u + 1]] for u in range(dataset.num_users)]


def _stage_rows(split, times):
    """Per stage, (user, item, timestamp, history) of every row; history is
    the item indices before the item, oldest first."""
    rows = {"train": [], "valid": [], "test": []}
    for u, train in enumerate(split.train_sequences):
        t = times[u]
        for i, item in enumerate(train):
            rows["train"].append((u, int(item), t[i], train[:i]))
        if split.valid_items[u]:
            n = len(train)
            assert len(t) == n + 2
            rows["valid"].append((u, int(split.valid_items[u]), t[n],
                                  split.history(u, "valid")))
            rows["test"].append((u, int(split.test_items[u]), t[n + 1],
                                 split.history(u, "test")))
    return rows


def write_benchmark_files(split, root, max_len):
    """Writes the general and the sequential benchmark folders under `root`.

    Returns:
        dict of stage -> number of rows, per folder.
    """
    data = split.dataset
    rows = _stage_rows(split, user_times(data))
    counts = {}
    for name, sequential in ((GENERAL_NAME, False), (SEQUENTIAL_NAME, True)):
        folder = pathlib.Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.item", "w", encoding="utf-8") as f:
            f.write("item_id:token\n")
            f.writelines(f"{r}\n" for r in data.item_ids)
        counts[name] = {}
        for stage, stage_rows in rows.items():
            path = folder / f"{name}.{stage}.inter"
            written = 0
            with open(path, "w", encoding="utf-8") as f:
                if sequential:
                    f.write("user_id:token\titem_id_list:token_seq\t"
                            "item_id:token\ttimestamp:float\n")
                else:
                    f.write("user_id:token\titem_id:token\ttimestamp:float\n")
                for u, item, t, history in stage_rows:
                    user, raw = data.user_ids[u], data.item_ids[item - 1]
                    if not sequential:
                        f.write(f"{user}\t{raw}\t{t:.0f}\n")
                    elif len(history):  # RecBole: no row without history
                        seq = " ".join(data.item_ids[i - 1]
                                       for i in history[-max_len:])
                        f.write(f"{user}\t{seq}\t{raw}\t{t:.0f}\n")
                    else:
                        continue
                    written += 1
            counts[name][stage] = written
    return counts


# --- RecBole --------------------------------------------------------------

PATCHES = []


def patch_recbole():
    """The runtime patches of the module docstring."""
    import torch
    from recbole.config import configurator

    def compatibility_settings(self):
        aliases = {"float": np.float64, "int": np.int_, "bool": np.bool_,
                   "complex": np.complex128, "object": np.object_,
                   "str": np.str_, "long": np.int_, "unicode": np.str_}
        for name, value in aliases.items():
            if name not in np.__dict__:
                setattr(np, name, value)

    configurator.Config.compatibility_settings = compatibility_settings
    PATCHES.append(
        "recbole.config.Config.compatibility_settings replaced: RecBole's "
        "sets np.float = np.float_ etc., and NumPy 2 has no np.float_, "
        "np.complex_, np.unicode_ (AttributeError); the replacement sets "
        "np.float/int/complex/object/str/unicode (where absent) from NumPy 2 "
        "names, as RecBole's code still uses np.float (metrics, Interaction)")

    import pandas as pd
    from recbole.data.dataset import dataset as rb_dataset_module
    from recbole.data.dataset import sequential_dataset

    def elementwise_len_agg(method):
        def wrapper(*args, **kwargs):
            original_agg = pd.Series.agg

            def agg(self, func=None, *a, **k):
                if func is len:
                    return self.map(len)
                return original_agg(self, func, *a, **k)

            pd.Series.agg = agg
            try:
                return method(*args, **kwargs)
            finally:
                pd.Series.agg = original_agg
        return wrapper

    rb_dataset_module.Dataset._remap = elementwise_len_agg(
        rb_dataset_module.Dataset._remap)
    sequential_dataset.SequentialDataset._benchmark_presets = (
        elementwise_len_agg(
            sequential_dataset.SequentialDataset._benchmark_presets))
    PATCHES.append(
        "Dataset._remap and SequentialDataset._benchmark_presets run with "
        "Series.agg(len) element-wise (Series.map(len)): since pandas 3, "
        "Series.agg(len) is len of the whole Series, so the token_seq "
        "item_id_list field was not split back per row (ValueError) and "
        "item_length would be one number for every row")

    original_load = torch.load

    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original_load(*args, **kwargs)

    torch.load = load
    PATCHES.append(
        "torch.load defaults to weights_only=False in this process: torch "
        ">= 2.6 defaults to True, and RecBole's Trainer.evaluate("
        "load_best_model=True) loads its own checkpoint, which pickles the "
        "Config object (UnpicklingError otherwise)")

    # Speed only (no change of what is computed; the training losses are
    # bit-identical with and without these):
    # RecBole's sine.py calls torch.autograd.set_detect_anomaly(True) at
    # import, and importing any sequential model (get_model("SASRec"))
    # imports the whole recbole.model.sequential_recommender package.
    import recbole.model.sequential_recommender  # noqa: F401  (sine.py)

    if torch.is_anomaly_enabled():
        torch.autograd.set_detect_anomaly(False)
        PATCHES.append(
            "torch autograd anomaly detection switched off after importing "
            "recbole.model.sequential_recommender: RecBole 1.2.1's sine.py "
            "turns it on for the whole process at import (any sequential "
            "model, SASRec included, imports it), which records a Python "
            "stack trace per forward op and checks every gradient for NaN "
            "(about 1.5x the CPU time of a SASRec step); it never changes "
            "the computed values")
    if set_malloc_reuse():
        PATCHES.append(
            "glibc mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2**31-1): large "
            "blocks come from the heap and stay there for reuse instead of "
            "a fresh mmap and munmap per tensor; SASRec's activations "
            "(2048 x 50 x 256 floats = 105 MB) otherwise page-fault anew "
            "every step (about 0.6 million minor faults per step, about "
            "1.5x the CPU time); allocation only, values unchanged")


def set_malloc_reuse():
    """Keeps glibc's freed large blocks for reuse (see `patch_recbole`).
    Returns whether it was applied (glibc only)."""
    import ctypes
    import ctypes.util

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4   # <malloc.h>
    return bool(libc.mallopt(m_mmap_max, 0)
                and libc.mallopt(m_trim_threshold, 2 ** 31 - 1))


def hyperparameters(model, args):
    """RecBole config overrides of one model (besides the data settings)."""
    common = {
        "seed": args.seed, "reproducibility": True,
        "gpu_id": "", "use_gpu": False,
        "learner": "adam", "learning_rate": 1e-3, "weight_decay": 0.0,
        "train_batch_size": 2048, "eval_step": 1, "stopping_step": 10,
        "valid_metric": "NDCG@10", "valid_metric_bigger": True,
        # no "ItemCoverage": RecBole 1.2.1's crashes in full-sort
        # evaluation (data.num_items is an int; get_data_struct calls .cpu())
        "metrics": ["Recall", "NDCG", "Hit", "MRR"],
        "topk": list(KS),
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO",
                      "group_by": "user", "mode": "full"},
    }
    if model == "Pop":
        return dict(common, epochs=1)
    if model == "BPR":
        return dict(common, epochs=args.bpr_epochs, embedding_size=64,
                    train_neg_sample_args={"distribution": "uniform",
                                           "sample_num": 1, "alpha": 1.0,
                                           "dynamic": False,
                                           "candidate_num": 0})
    if model == "SASRec":
        return dict(common, epochs=args.sasrec_epochs,
                    MAX_ITEM_LIST_LENGTH=args.max_seq_length,
                    n_layers=2, n_heads=2, hidden_size=64, inner_size=256,
                    hidden_dropout_prob=0.5, attn_dropout_prob=0.5,
                    hidden_act="gelu", layer_norm_eps=1e-12,
                    initializer_range=0.02, loss_type="CE",
                    train_neg_sample_args=None)
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def data_settings(model, workdir):
    sequential = model == "SASRec"
    inter = (["user_id", "item_id_list", "item_id", "timestamp"] if sequential
             else ["user_id", "item_id", "timestamp"])
    settings = {
        "data_path": str(workdir), "checkpoint_dir": str(workdir / "saved"),
        "benchmark_filename": ["train", "valid", "test"],
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp", "field_separator": "\t",
        "seq_separator": " ",
        "load_col": {"inter": inter, "item": ["item_id"]},
        "show_progress": False, "save_dataset": False,
        "save_dataloaders": False, "log_wandb": False, "worker": 0,
        # general models: users per full-sort batch = this // item_num
        "eval_batch_size": 1683 * 256,
    }
    if sequential:
        settings["alias_of_item_id"] = ["item_id_list"]
    return (SEQUENTIAL_NAME if sequential else GENERAL_NAME), settings


class _OutOfBudget(Exception):
    """Raised before a training epoch that would end past the budget."""


class IdMap:
    """tfllm indices <-> RecBole internal ids (through the raw ids)."""

    def __init__(self, rb_dataset, data):
        tokens = rb_dataset.field2id_token["item_id"]
        if len(tokens) - 1 != data.num_items:
            raise RuntimeError(f"RecBole has {len(tokens) - 1} items, "
                               f"tfllm {data.num_items}")
        # ours[rb] = tfllm index of RecBole id rb; rb_of[ours] the inverse
        self.ours = np.array([0] + [data.item_index(t) for t in tokens[1:]])
        self.rb_of = np.zeros(data.num_items + 1, np.int64)
        self.rb_of[self.ours] = np.arange(len(self.ours))
        token2id = rb_dataset.field2token_id["user_id"]
        self.user = np.array([token2id.get(r, -1) for r in data.user_ids])


def make_score_fn(model, idmap, sequential, max_len):
    """`score_fn(users, histories)` for `evaluate_scores`: the RecBole
    model's full-sort scores in tfllm's item order ([B, num_items + 1])."""
    import torch
    from recbole.data.interaction import Interaction

    def score_fn(users, histories):
        if sequential:
            seq = np.zeros((len(users), max_len), np.int64)
            lengths = np.zeros(len(users), np.int64)
            for row, history in enumerate(histories):
                h = idmap.rb_of[np.asarray(history)[-max_len:]]
                seq[row, :len(h)] = h
                lengths[row] = len(h)
            inter = Interaction({
                model.ITEM_SEQ: torch.from_numpy(seq),
                model.ITEM_SEQ_LEN: torch.from_numpy(lengths)})
        else:
            uids = idmap.user[np.asarray(users)]
            assert (uids > 0).all(), "user unknown to RecBole"
            inter = Interaction({model.USER_ID: torch.from_numpy(uids)})
        with torch.no_grad():
            scores = model.full_sort_predict(inter)
        scores = scores.view(len(users), -1).double().cpu().numpy()
        return scores[:, idmap.rb_of]   # column 0 <- RecBole's padding

    return score_fn


def unmasked_metrics(score_fn, split, stage="test"):
    """Recall/NDCG@k with nothing excluded but the padding: RecBole's
    protocol for sequential models, to check its own figures."""
    users = split.eval_users(stage)
    ranks = []
    for start in range(0, len(users), 256):
        batch = users[start:start + 256]
        scores = np.array(score_fn(batch, [split.history(u, stage)
                                           for u in batch]), np.float64)
        scores[:, 0] = -np.inf
        targets = np.array([split.targets(u, stage)[0] for u in batch])
        ranks.append(target_ranks(scores, targets))
    ranks = np.concatenate(ranks)
    out = {}
    for k in KS:
        hit = ranks < k
        out[f"recall@{k}"] = float(hit.mean())
        out[f"ndcg@{k}"] = float(np.where(hit, 1 / np.log2(ranks + 2),
                                          0).mean())
    return out


def check_histories(split, idmap, test_data, sequential, max_len):
    """Asserts RecBole's test phase sees tfllm's test histories: the
    sequence of each test row (SASRec) or the masked items (Pop, BPR)."""
    users_rb = {int(r): u for u, r in enumerate(idmap.user)}
    if sequential:
        feat = test_data._dataset.inter_feat
        seqs = feat["item_id_list"].numpy()
        lengths = feat["item_length"].numpy()
        for uid, seq, n in zip(feat["user_id"].numpy(), seqs, lengths):
            u = users_rb[int(uid)]
            ours = split.history(u, "test")[-max_len:]
            assert np.array_equal(idmap.ours[seq[:n]], ours), u
        return int(len(lengths))
    checked = 0
    for uid in test_data.uid_list.numpy():
        u = users_rb[int(uid)]
        masked = set(idmap.ours[test_data.uid2history_item[uid].numpy()])
        assert masked == set(split.history(u, "test").tolist()), u
        checked += 1
    return checked


def run_model(name, split, workdir, args):
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_logger, init_seed

    sequential = name == "SASRec"
    dataset_name, settings = data_settings(name, workdir)
    hp = hyperparameters(name, args)
    started = time.perf_counter()
    config = Config(model=name, dataset=dataset_name,
                    config_dict=dict(settings, **hp))
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    torch.set_num_threads(args.threads)
    rb_dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, rb_dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(
        config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    if torch.is_anomaly_enabled():   # see patch_recbole
        raise RuntimeError("torch autograd anomaly detection is on")

    epoch_seconds, valid_seconds, valid_curve = [], [], []
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch
    budget = args.budget_s if name != "Pop" else None
    fit_started = time.perf_counter()

    def timed_train(*a, **k):
        t = time.perf_counter()
        if budget and epoch_seconds:
            per_epoch = (sum(epoch_seconds) + sum(valid_seconds)) / len(
                epoch_seconds)
            if t - fit_started + per_epoch > budget:
                raise _OutOfBudget
        out = train_epoch(*a, **k)
        epoch_seconds.append(time.perf_counter() - t)
        return out

    def timed_valid(*a, **k):
        t = time.perf_counter()
        score, result = valid_epoch(*a, **k)
        valid_seconds.append(time.perf_counter() - t)
        valid_curve.append(round(float(score), 6))
        return score, result

    trainer._train_epoch, trainer._valid_epoch = timed_train, timed_valid
    load_before = os.getloadavg()
    try:
        trainer.fit(train_data, valid_data, saved=True, show_progress=False)
        stopped_by = ("early stopping (stopping_step "
                      f"{config['stopping_step']})"
                      if len(epoch_seconds) < config["epochs"]
                      else f"epoch cap ({config['epochs']})")
    except _OutOfBudget:
        stopped_by = f"time budget ({budget} s of training + validation)"
    # the best validation checkpoint was saved by fit; evaluate() loads it
    best_valid_result = trainer.best_valid_result
    fit_seconds = time.perf_counter() - fit_started
    rb_test = trainer.evaluate(test_data, load_best_model=True,
                               show_progress=False)
    # trainer.evaluate loaded the best checkpoint into `model`
    model.eval()

    data = split.dataset
    idmap = IdMap(train_data._dataset, data)
    checked = check_histories(split, idmap, test_data, sequential,
                              args.max_seq_length)
    score_fn = make_score_fn(model, idmap, sequential, args.max_seq_length)
    t = time.perf_counter()
    test = evaluate_scores(score_fn, split, "test", ks=KS)
    eval_seconds = time.perf_counter() - t
    valid = evaluate_scores(score_fn, split, "valid", ks=KS)
    unmasked = unmasked_metrics(score_fn, split) if sequential else None
    total = time.perf_counter() - started

    best_epoch = (int(np.argmax(valid_curve)) if valid_curve else None)
    keys = ("recall@10", "ndcg@10", "recall@50", "ndcg@50", "coverage@10",
            "users")
    return {
        **{k: test[k] for k in keys},
        "valid": {k: valid[k] for k in keys},
        "seconds_per_epoch": (float(np.mean(epoch_seconds))
                              if epoch_seconds else None),
        "valid_seconds_per_epoch": (float(np.mean(valid_seconds))
                                    if valid_seconds else None),
        "epochs_trained": len(epoch_seconds),
        "best_epoch": best_epoch,
        "stopped_by": stopped_by,
        "epoch_cap": int(config["epochs"]),
        "fit_seconds": round(fit_seconds, 2),
        "load_average_1_5_15": {"before_fit": [round(x, 2)
                                               for x in load_before],
                                "after": [round(x, 2)
                                          for x in os.getloadavg()]},
        "tfllm_test_eval_seconds": round(eval_seconds, 2),
        "total_seconds": round(total, 2),
        "valid_ndcg@10_curve": valid_curve,
        "recbole_test_result": {k: float(v) for k, v in rb_test.items()},
        **({"test_without_exclusion": unmasked} if sequential else {}),
        "recbole_best_valid_result": {k: float(v)
                                      for k, v in best_valid_result.items()},
        "recbole_items": int(train_data._dataset.item_num - 1),
        "recbole_train_rows": int(len(train_data._dataset)),
        "histories_checked": checked,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "hyperparameters": {
            **{k: v for k, v in hp.items() if k != "eval_args"},
            **({"MAX_ITEM_LIST_LENGTH": config["MAX_ITEM_LIST_LENGTH"]}
               if sequential else {}),
            **{k: config[k] for k in ("embedding_size",) if name == "BPR"},
        },
    }


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None,
                        help="folder of ml-100k.{inter,item,user} (default: "
                             "$TFLLM_DATA_DIR/movielens_100k or "
                             "../shared/data/movielens_100k)")
    parser.add_argument("--output", required=True, help="result JSON path")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset of Pop,BPR,SASRec")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on 2 "
                             "CPU cores shared with other jobs, 2 OpenMP "
                             "threads cost about 1.5x the CPU time of one "
                             "and were slower, not faster)")
    parser.add_argument("--max-seq-length", type=int, default=50)
    parser.add_argument("--bpr-epochs", type=int, default=300,
                        help="epoch cap of BPR (early stopping decides)")
    parser.add_argument("--sasrec-epochs", type=int, default=200,
                        help="epoch cap of SASRec (early stopping or the "
                             "budget decides)")
    parser.add_argument("--budget-s", type=float, default=1200,
                        help="per-model wall-clock budget of training and "
                             "validation: no epoch is started that would "
                             "end past it (0: none); the best validation "
                             "checkpoint is tested")
    parser.add_argument("--workdir", default=None,
                        help="benchmark files, checkpoints, RecBole logs "
                             "(default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    if TF_BY_TFLLM:
        raise RuntimeError("importing tfllm's split/metrics loaded TensorFlow")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            parser.error(f"unknown model {m!r}; choose from {MODELS}")
    output = pathlib.Path(args.output).resolve()
    started = time.perf_counter()

    data = load_movielens_100k(args.data_dir)
    data_dir = pathlib.Path(data.source)
    data_dir = data_dir if data_dir.is_dir() else data_dir.parent
    split = leave_last_out_split(data)
    keep = args.workdir is not None
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(
        prefix="recbole_peer_")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    rows = write_benchmark_files(split, workdir, args.max_seq_length)

    import pandas
    import recbole
    import torch
    patch_recbole()

    results = {}
    cwd = os.getcwd()
    os.chdir(workdir)   # RecBole writes ./log and ./log_tensorboard
    try:
        for name in models:
            print(f"== {name}", flush=True)
            results[name] = run_model(name, split, workdir, args)
    finally:
        os.chdir(cwd)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    report = {
        "benchmark": "RecBole peer: MovieLens-100K leave-last-out, "
                     "full-catalogue ranking, seen items excluded "
                     "(tfllm.recommendation.metrics)",
        "command": " ".join([os.path.basename(sys.executable)]
                            + sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "machine": machine_description(),
        "threads": args.threads,
        "versions": {"python": platform.python_version(),
                     "torch": torch.__version__,
                     "recbole": recbole.__version__,
                     "numpy": np.__version__, "pandas": pandas.__version__},
        "data": {
            "dir": str(data_dir),
            "sha256": {f: sha256(data_dir / f)
                       for f in ("ml-100k.inter", "ml-100k.item",
                                 "ml-100k.user")},
            "users": data.num_users, "items": data.num_items,
            "interactions": data.num_interactions,
            "train_interactions": split.train_interactions(),
            "test_users": int(len(split.eval_users("test"))),
            "benchmark_file_rows": rows,
        },
        "seed": args.seed,
        "patches": PATCHES,
        "protocol_notes": [
            "tfllm metrics: evaluate_scores(stage='test'), ranking all "
            "1682 items, training items and the validation item excluded, "
            "ties in tfllm's seeded per-user random order",
            "recbole_test_result for Pop/BPR masks the same items "
            "(train + valid); ties broken by torch.topk",
            "recbole_test_result for SASRec masks nothing but padding "
            "(RecBole's full-sort eval of sequential models), so seen "
            "items compete with the target; test_without_exclusion "
            "recomputes that protocol from the same scores",
            "no RecBole ItemCoverage: it crashes in RecBole 1.2.1 "
            "full-sort evaluation (int data.num_items .cpu()); coverage@10 "
            "is tfllm's",
            "pandas 3 copy-on-write makes RecBole's in-place fillna in "
            "_fill_nan a no-op (FutureWarning); the files have no missing "
            "values, so nothing changes",
            "SASRec: RecBole defaults, MAX_ITEM_LIST_LENGTH "
            f"{args.max_seq_length}, CE loss over the whole catalogue; "
            "the paper (Kang & McAuley 2018, ML-1M) used L=200, d=50, "
            "1 head, dropout 0.2, BCE with one sampled negative",
            "seconds_per_epoch: training pass only (RecBole's "
            "_train_epoch); validation per epoch is listed apart",
            "training stops at early stopping (valid NDCG@10, "
            "stopping_step 10), the epoch cap, or the per-model time "
            f"budget ({args.budget_s} s; stopped_by says which); the best "
            "validation checkpoint is tested",
        ],
        "models": results,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    header = (f"{'model':8} {'R@10':>7} {'NDCG@10':>8} {'R@50':>7} "
              f"{'cov@10':>7} {'RB R@10':>8} {'RB NDCG@10':>10} "
              f"{'s/epoch':>8} {'epochs':>6} {'total s':>8}")
    print(header)
    for name, r in results.items():
        rb = r["recbole_test_result"]
        spe = r["seconds_per_epoch"] or 0.0
        print(f"{name:8} {r['recall@10']:7.4f} {r['ndcg@10']:8.4f} "
              f"{r['recall@50']:7.4f} {r['coverage@10']:7.4f} "
              f"{rb['recall@10']:8.4f} {rb['ndcg@10']:10.4f} "
              f"{spe:8.2f} {r['epochs_trained']:6d} "
              f"{r['total_seconds']:8.1f}")
    print(f"wrote {output} ({report['total_seconds']} s)")


if __name__ == "__main__":
    main()
