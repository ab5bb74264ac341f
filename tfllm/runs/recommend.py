"""The recommender's runs: train (a run folder), evaluate, export,
recommend. `tfllm recommend ...` (`tfllm.cli.recommend`) calls these."""

import dataclasses
import json
import pathlib
import time
from typing import Optional

from tfllm.config import help_field as _help


@dataclasses.dataclass
class RecommenderData:
    """Where the interactions and items come from, and how they are split."""

    dataset: Optional[str] = _help(
        "movielens-100k (found with --data-dir, $TFLLM_DATA_DIR or "
        "../shared/data), or a folder with RecBole atomic files "
        "(*.inter/*.item/*.user) or GroupLens ml-100k files "
        "(u.data/u.item/u.user)", "movielens-100k")
    data_dir: Optional[str] = _help("the dataset's folder")
    interactions_file: Optional[str] = _help(
        "your own interactions (CSV/TSV/JSONL: user_id, item_id, optional "
        "timestamp and rating) with --items-file; replaces --dataset")
    items_file: Optional[str] = _help(
        "your own items (id column item_id, the other columns are the "
        "item's text)")
    users_file: Optional[str] = _help("optional users file (user_id, "
                                      "categorical features)")
    skip_bad_rows: bool = _help(
        "skip and count malformed rows and unknown item ids instead of "
        "stopping at the first", False)
    cold_start: bool = _help(
        "hold a seeded share of the items out of training and report how "
        "users' interactions with them are ranked from text alone", False)
    cold_fraction: float = _help("share of items held out by --cold-start",
                                 0.1)
    cold_seed: int = _help("seed of the held-out items", 0)


@dataclasses.dataclass
class RecommenderRun:
    """The run folder."""

    output_dir: str = "runs"
    run_name: Optional[str] = _help("run folder (an existing one resumes)")


def load_data(data):
    """`(dataset, split)` for `RecommenderData` settings.

    Raises:
        DataFormatError: a malformed file (names file and line).
        DatasetNotFoundError: the named dataset is not on disk.
    """
    from tfllm.recommendation.readers import load_recommendation_dataset
    from tfllm.recommendation.readers import read_interactions
    from tfllm.recommendation.split import cold_start_split
    from tfllm.recommendation.split import leave_last_out_split

    if data.interactions_file:
        if not data.items_file:
            from tfllm.data.errors import UserInputError

            raise UserInputError("--interactions-file needs --items-file")
        dataset = read_interactions(
            data.interactions_file, data.items_file, data.users_file,
            skip_bad_rows=data.skip_bad_rows)
    else:
        dataset = load_recommendation_dataset(
            data.dataset, data.data_dir, skip_bad_rows=data.skip_bad_rows)
    if dataset.skipped:
        per_file = dataset.skipped.get("per_file", {})
        print(f"skipped {dataset.skipped.get('skipped_rows', 0)} bad rows ("
              + ", ".join(f"{path}: {count}" for path, count
                          in per_file.items())
              + "); the list is in the run folder's skipped_rows.json")
    if data.cold_start:
        split = cold_start_split(dataset, data.cold_fraction, data.cold_seed)
    else:
        split = leave_last_out_split(dataset)
    print(f"{dataset.num_interactions} interactions, {dataset.num_users} "
          f"users, {dataset.num_items} items ({dataset.source}); "
          f"{split.train_interactions()} training interactions"
          + (f", {len(split.cold_items)} cold items held out"
             if split.cold_items is not None else ""))
    return dataset, split


def _absolute_paths(data):
    """`data` with its file and folder paths made absolute."""
    changes = {}
    for name in ("data_dir", "interactions_file", "items_file",
                 "users_file"):
        value = getattr(data, name)
        if value:
            changes[name] = str(pathlib.Path(value).resolve())
    if data.dataset and pathlib.Path(data.dataset).exists():
        changes["dataset"] = str(pathlib.Path(data.dataset).resolve())
    return dataclasses.replace(data, **changes)


def _check_resume(run_dir, data, config):
    """Refuses to resume a run folder with other data or model settings
    (the checkpoint holds the old model; its settings would be recorded
    wrongly).

    Raises:
        UserInputError: a setting differs; the message lists them.
    """
    from tfllm.apps.recommender import RecommenderConfig
    from tfllm.apps.recommender import RecommenderTrainingConfig
    from tfllm.config import load_config
    from tfllm.data.errors import UserInputError
    from tfllm.peft.options import PeftArgs

    saved_file = run_dir / "config.yaml"
    if not saved_file.is_file():
        return
    saved = load_config(saved_file, [RecommenderData, RecommenderConfig,
                                     RecommenderRun,
                                     RecommenderTrainingConfig, PeftArgs])
    differ = [f"{f.name}: {saved[f.name]!r} -> {getattr(c, f.name)!r}"
              for c in (data, config) for f in dataclasses.fields(c)
              if f.name in saved and saved[f.name] != getattr(c, f.name)]
    if differ:
        raise UserInputError(
            f"{run_dir} holds a run with other settings ({'; '.join(differ)});"
            " resume it with its own settings (--config "
            f"{saved_file}) or give another --run-name")


def evaluate_all(rec, split):
    """Validation and test metrics (and cold-start ones on a cold split)."""
    stages = ["valid", "test"] + (["cold"] if split.cold_items is not None
                                  else [])
    return {stage: rec.evaluate(split, stage) for stage in stages}


def train_recommender(data, config, run, training, peft_args=None):
    """Trains a recommender and writes a run folder.

    Args:
        data: `RecommenderData`.
        config: `tfllm.apps.recommender.RecommenderConfig`.
        run: `RecommenderRun`.
        training: `RecommenderTrainingConfig`.
        peft_args: `tfllm.peft.options.PeftArgs` or None (applied to the
            item tower's language model when it is fine-tuned).

    Returns:
        `pathlib.Path`: the run folder (`config.yaml`, `model.keras`,
        `recommender.json`, `metrics.jsonl`, `summary.json`).
    """
    import keras

    from tfllm.apps.recommender import Recommender
    from tfllm.apps.recommender import check_config
    from tfllm.config import save_config
    from tfllm.peft.options import apply_from_args
    from tfllm.runs.summary import write_run_summary

    from tfllm.training.precision import set_precision

    start = time.perf_counter()
    config = check_config(config)  # before any data is read
    data = _absolute_paths(data)   # the run folder works from anywhere
    run_dir = pathlib.Path(run.output_dir) / (
        run.run_name or time.strftime("recommender-%Y%m%d-%H%M%S"))
    _check_resume(run_dir, data, config)
    keras.utils.set_random_seed(training.seed)
    set_precision(training.precision)  # before the model is built
    dataset, split = load_data(data)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(run_dir / "config.yaml", data, config, run, training,
                *([peft_args] if peft_args is not None else []))
    if dataset.skipped:
        (run_dir / "skipped_rows.json").write_text(
            json.dumps(dataset.skipped, indent=2) + "\n")
    rec = Recommender.from_dataset(dataset, config, split)
    peft_summary = {}
    if peft_args is not None and peft_args.peft:
        if rec.model is None or rec.model.item_encoder is None or \
                not config.encoder_items_per_step:
            from tfllm.data.errors import UserInputError

            raise UserInputError(
                "--peft fine-tunes the item tower's language model: use "
                "--model text-two-tower with --encoder-items-per-step > 0")
        peft_summary = apply_from_args(rec.model.item_encoder, peft_args)
    history = rec.fit(split, training, run_dir)
    rec.save(run_dir)
    scores = evaluate_all(rec, split)
    flat = {f"{stage}_{name}": value for stage, values in scores.items()
            for name, value in values.items() if name != "users"}

    class _Count:  # write_run_summary reads the epoch's unit count
        num_tokens = sum(len(s) for s in split.train_sequences)

    write_run_summary(run_dir, flat, history, _Count, start,
                      {"model": config.model, "peft": peft_summary or None,
                       "skipped_rows": dataset.skipped.get("skipped_rows", 0)},
                      unit="interactions")
    return run_dir


def load_run(run_dir, data=None):
    """`(Recommender, dataset, split)` of a run folder; the data settings
    are the run's own unless `data` is given."""
    from tfllm.apps.recommender import Recommender
    from tfllm.config import load_config

    from tfllm.apps.recommender import RecommenderConfig
    from tfllm.apps.recommender import RecommenderTrainingConfig
    from tfllm.data.errors import UserInputError
    from tfllm.peft.options import PeftArgs

    run_dir = pathlib.Path(run_dir)
    if data is None:
        if not (run_dir / "config.yaml").is_file():
            raise UserInputError(f"{run_dir}: no config.yaml; expected a run "
                                 "folder of `tfllm recommend train`")
        values = load_config(run_dir / "config.yaml", [
            RecommenderData, RecommenderConfig, RecommenderRun,
            RecommenderTrainingConfig, PeftArgs])
        data = RecommenderData(**{
            f.name: values[f.name] for f in dataclasses.fields(RecommenderData)
            if f.name in values})
    dataset, split = load_data(data)
    return Recommender.load(run_dir, dataset), dataset, split
