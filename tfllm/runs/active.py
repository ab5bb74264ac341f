"""Active learning runs: a simulation over a dataset's training split, and
the human-labelling round trip (select a batch, add its labels).
`tfllm active ...` (`tfllm.cli.active`) calls these."""

import dataclasses
import pathlib
from typing import Optional

from tfllm.config import help_field as _help


@dataclasses.dataclass
class ActiveLearningConfig:
    """Settings of an active learning run (`tfllm active ...`)."""

    dataset: str = _help(
        "a known classification dataset (banking77, sst2, ...) or NER "
        "dataset (conll2003, ...); its train split is the pool, its "
        "validation split scores each round", "banking77")
    data_dir: Optional[str] = _help("the dataset's folder")
    strategy: str = _help(
        "random, least_confidence, margin, entropy, bald, kmeans_margin, "
        "or sequence_least_confidence (NER with a CRF head)", "margin")
    seed_size: int = _help("randomly chosen items labelled first", 200)
    batch_size: int = _help("items labelled per round", 200)
    rounds: int = _help("query rounds (the curve has rounds + 1 points)", 8)
    epochs: int = _help("training epochs per round", 5)
    train_batch_size: int = _help("training batch size", 16)
    learning_rate: float = _help("peak AdamW learning rate", 1e-4)
    backbone: str = _help("encoder (what --backbone takes elsewhere)",
                          "minilm")
    max_length: int = _help("sub-tokens per text (NER: per window)", 64)
    head: str = _help("NER head: crf or softmax", "crf")
    precision: str = _help("fp32, mixed_bfloat16 (fast on CPUs with "
                           "bfloat16 units) or mixed_float16 (GPUs)", "fp32")
    seed: int = _help("seeds the seed set, every round's choices and "
                      "training", 42)
    warm_start: bool = _help(
        "continue from the last round's model instead of the pretrained "
        "weights (default: cold start each round)", False)
    pool_subsample: Optional[int] = _help(
        "score only this many random unlabelled items per round (speed)")
    limit_pool: Optional[int] = _help(
        "use a seeded random N training items as the pool (smoke tests)")
    limit_eval: Optional[int] = _help(
        "score a seeded random N validation items (smoke tests)")
    mc_samples: int = _help("MC-dropout passes for bald", 10)
    aggregation: str = _help("NER: word scores to a sentence score: max, "
                             "mean or sum", "max")
    candidates_per_pick: int = _help(
        "kmeans_margin: uncertain candidates per batch item", 10)
    run_dir: str = _help("run folder (state.json, learning_curve.json/png;"
                         " an existing one resumes)", "runs/active")


def _is_ner(config):
    from tfllm.data.ner_datasets import NER_DATASETS

    return config.dataset in NER_DATASETS


def load_task(config):
    """`(pool_inputs, pool_labels, evaluation, labels, learner)` of a run.

    Raises:
        ValueError: an unknown dataset or strategy.
        DatasetNotFoundError: the dataset is not on disk.
    """
    from tfllm.active.learners import TextClassificationLearner
    from tfllm.active.learners import TokenClassificationLearner
    from tfllm.active.loop import check_strategy

    from tfllm.training.precision import set_precision

    check_strategy(config.strategy)
    set_precision(config.precision)
    common = dict(backbone=config.backbone, max_length=config.max_length,
                  epochs=config.epochs, batch_size=config.train_batch_size,
                  learning_rate=config.learning_rate, seed=config.seed)
    if _is_ner(config):
        from tfllm.runs.ner import load_ner_dataset

        data = load_ner_dataset(config.dataset, config.data_dir)
        pool = [s.words for s in data.train]
        gold = [s.tags for s in data.train]
        evaluation = ([s.words for s in data.validation],
                      [s.tags for s in data.validation])
        learner = TokenClassificationLearner(data.labels, head=config.head,
                                             **common)
    else:
        from tfllm.runs.classification import load_classification_dataset

        data = load_classification_dataset(config.dataset, config.data_dir,
                                           seed=config.seed)
        if data.multi_label:
            raise ValueError(f"{config.dataset} is multi-label; active "
                             "learning here is single-label")
        pool, gold = list(data.train.texts), list(data.train.labels)
        evaluation = (list(data.validation.texts),
                      list(data.validation.labels))
        learner = TextClassificationLearner(data.labels, **common)
    if config.limit_pool:
        keep = _subset(len(pool), config.limit_pool, config.seed)
        pool, gold = [pool[i] for i in keep], [gold[i] for i in keep]
    if config.limit_eval:
        keep = _subset(len(evaluation[0]), config.limit_eval, config.seed)
        evaluation = tuple([x[i] for i in keep] for x in evaluation)
    return pool, gold, evaluation, data.labels, learner


def _subset(size, limit, seed):
    """Sorted seeded random positions: `limit` of `range(size)` (files
    sorted by label would give a first-N slice few labels)."""
    from tfllm.active.strategies import random_sampling

    return sorted(random_sampling(size, limit, [seed, 99]).tolist())


def _write_outputs(run_dir, curve, strategy, metric):
    from tfllm.active.curves import plot_learning_curves

    plot_learning_curves({strategy: curve},
                         pathlib.Path(run_dir) / "learning_curve.png", metric,
                         title=strategy)


def simulate(config):
    """Simulated active learning: the training split's gold labels are the
    oracle. Writes `state.json`, `config.yaml`, `learning_curve.json` and
    `learning_curve.png` in `config.run_dir`.

    Returns:
        list of per-round dicts (see `run_active_learning`).
    """
    from tfllm.active.loop import run_active_learning
    from tfllm.active.oracle import SimulatedOracle
    from tfllm.config import save_config

    pool, gold, evaluation, _, learner = load_task(config)
    run_dir = pathlib.Path(config.run_dir)
    save_config(run_dir / "config.yaml", config)
    print(f"{config.strategy}: pool {len(pool)}, evaluation "
          f"{len(evaluation[0])}, seed {config.seed_size}, "
          f"{config.rounds} rounds of {config.batch_size}")
    curve = run_active_learning(
        learner, pool, SimulatedOracle(gold), evaluation, config.strategy,
        config.seed_size, config.batch_size, config.rounds, config.seed,
        run_dir, config.warm_start, config.pool_subsample,
        config.mc_samples, config.aggregation, config.candidates_per_pick)
    _write_outputs(run_dir, curve, config.strategy, learner.metric_name)
    return curve


@dataclasses.dataclass
class BatchFile:
    """The batch file of a human-labelling round."""

    output: str = _help("JSONL file the selected batch is written to",
                        "batch.jsonl")


def select(config, batch_file):
    """Writes the next batch to label to a JSONL file (`id`, `text`, empty
    `label`). The first call sends a random seed set of `seed_size`; later
    calls train on the labels added so far, record the validation metric,
    and send the strategy's `batch_size` picks. The dataset's training
    labels are never read (the pool is its texts).

    Returns:
        list of int: the pool ids sent out.

    Raises:
        UserInputError: a batch is still waiting for its labels.
    """
    from tfllm.active.batch_files import write_batch
    from tfllm.active.curves import write_curve
    from tfllm.active.loop import ActiveLearningState
    from tfllm.active.loop import select_batch
    from tfllm.active.strategies import random_sampling
    from tfllm.data.errors import UserInputError

    if _is_ner(config):
        raise UserInputError("human labelling batches are for text "
                             "classification; NER runs simulate only")
    pool, _, evaluation, _, learner = load_task(config)
    run_dir = pathlib.Path(config.run_dir)
    state = ActiveLearningState.load(run_dir)
    # Pool ids are positions in the (seeded, limited) pool: the pool must be
    # the same one every round, or labels would land on other texts.
    pool_settings = {"dataset": config.dataset, "data_dir": config.data_dir,
                     "limit_pool": config.limit_pool, "seed": config.seed,
                     "pool_size": len(pool)}
    if state.settings:
        differ = [f"{key} {state.settings.get(key)!r} (now {value!r})"
                  for key, value in pool_settings.items()
                  if state.settings.get(key) != value]
        if differ:
            raise UserInputError(
                f"{run_dir / 'state.json'}: this run's pool was built with "
                + "; ".join(differ) + ". Give the same settings (the ids "
                "in the batch files are positions in that pool)")
    if state.pending:
        raise UserInputError(
            f"{run_dir}: {len(state.pending)} items sent out are not "
            "labelled yet; add them with `tfllm active add-labels --batch "
            f"FILE --run-dir {run_dir}` first")
    if not state.labelled:
        chosen = random_sampling(len(pool), config.seed_size,
                                 [config.seed, 0]).tolist()
    else:
        positions = state.positions()
        learner.fit([pool[i] for i in positions],
                    [label for _, label in state.labelled])
        metric = learner.evaluate(*evaluation)
        labelled = set(positions)
        chosen = select_batch(
            config.strategy, learner, pool,
            [i for i in range(len(pool)) if i not in labelled],
            config.batch_size, [config.seed, state.round + 1],
            config.pool_subsample, config.mc_samples, config.aggregation,
            config.candidates_per_pick).tolist()
        state.curve.append({"round": state.round, "labels": len(positions),
                            "metric": metric, "selected": chosen})
        write_curve(run_dir / "learning_curve.json", state.curve,
                    strategy=config.strategy, metric=learner.metric_name)
        _write_outputs(run_dir, state.curve, config.strategy,
                       learner.metric_name)
        print(f"round {state.round}: {len(positions)} labels, "
              f"{learner.metric_name} {metric:.4f}")
    state.pending = chosen
    state.settings = dict(pool_settings, labels=learner.labels)
    state.save(run_dir)
    path = write_batch(batch_file.output, chosen, [pool[i] for i in chosen])
    print(f"wrote {len(chosen)} items to label to {path}")
    return chosen


@dataclasses.dataclass
class AddLabelsArgs:
    """A labelled batch file and its run folder."""

    batch: Optional[str] = _help("the labelled JSONL batch file")
    run_dir: str = _help("the run folder of `tfllm active select`",
                         "runs/active")


def add_labels(args):
    """Reads a labelled batch back into the run folder's state.

    Returns:
        int: labelled items in the run folder now.

    Raises:
        UserInputError: no batch is pending, or no file given.
        DataFormatError: a bad line (`file:line`: unknown or empty label,
            an id not sent out or given twice, malformed JSON) or ids
            missing.
    """
    from tfllm.active.batch_files import read_labelled_batch
    from tfllm.active.loop import ActiveLearningState
    from tfllm.data.errors import UserInputError

    if not args.batch:
        raise UserInputError("give the labelled batch file: `tfllm active "
                             "add-labels --batch BATCH.jsonl --run-dir RUN`")
    state = ActiveLearningState.load(args.run_dir)
    if not state.pending:
        raise UserInputError(f"{args.run_dir}: no batch is waiting for "
                             "labels; run `tfllm active select` first")
    labels = read_labelled_batch(args.batch, state.settings["labels"],
                                 state.pending)
    state.add(list(labels), list(labels.values()))
    state.pending = []
    state.round += 1
    state.save(args.run_dir)
    print(f"added {len(labels)} labels; {len(state.labelled)} labelled")
    return len(state.labelled)
