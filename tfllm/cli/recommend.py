"""Recommender: train, evaluate, export, recommend.

Usage: tfllm recommend train|evaluate|export|recommend [options]

Subcommands (each takes `--help` and `--config FILE`):

- `train`: split the interactions (per user, last by time = test, the one
  before = validation), train a text two-tower (or id two-tower, or
  popularity) recommender with the shared training loop and write a run
  folder with validation and test Recall@10, NDCG@10, Recall@50 and
  coverage (ranked against the full catalogue, seen items excluded).
- `evaluate`: the same metrics for a run folder.
- `export`: a SavedModel: recent item ids in, top-k item ids, titles and
  scores out (loads with plain TensorFlow).
- `recommend`: top-k items for a user id (`--run RUN --user 42`) or a list of item
  ids, as JSON lines.
"""

import dataclasses
import json
from typing import Optional

from tfllm.apps.recommender import RecommenderConfig
from tfllm.apps.recommender import RecommenderTrainingConfig
from tfllm.cli.args import build_subcommand_parser
from tfllm.cli.args import run_subcommand
from tfllm.cli.args import help_field as _help
from tfllm.peft.options import PeftArgs
from tfllm.runs.recommend import RecommenderData
from tfllm.runs.recommend import RecommenderRun
from tfllm.runs.recommend import train_recommender


@dataclasses.dataclass
class RunFolder:
    run: Optional[str] = _help("a `tfllm recommend train` run folder",
                               aliases=["--run-dir"])


def _load(folder):
    from tfllm.data.errors import UserInputError
    from tfllm.runs.recommend import load_run

    if not folder.run:
        raise UserInputError("--run RUN_FOLDER is required (a "
                             "`tfllm recommend train` run folder)")
    return load_run(folder.run)


@dataclasses.dataclass
class EvaluateArgs:
    stage: str = _help("valid, test, or cold (a --cold-start run)", "test")
    report: Optional[str] = _help("JSON file to write the metrics to")


def evaluate(folder, args):
    rec, _, split = _load(folder)
    scores = rec.evaluate(split, args.stage)
    print(json.dumps({"stage": args.stage, **scores}))
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump({"stage": args.stage, **scores}, f, indent=2)
    return scores


@dataclasses.dataclass
class ExportArgs:
    export_dir: str = _help("SavedModel base folder (versions inside)",
                            "saved_models/recommender")
    k: int = _help("items returned per request", 10)


def export(folder, args):
    rec, _, _ = _load(folder)
    path = rec.export(args.export_dir, k=args.k)
    print(f"exported the recommender SavedModel to {path}")
    return path


@dataclasses.dataclass
class RecommendArgs:
    user: Optional[str] = _help("a user id of the data: their history is "
                                "the query")
    items: Optional[str] = _help(
        "item ids, oldest first, comma-separated (a new user's history)")
    k: int = _help("items returned", 10)


def recommend(folder, args):
    rec, _, _ = _load(folder)
    history = args.items.split(",") if args.items else None
    results = rec.recommend(user=args.user, history=history, k=args.k)
    for rank, result in enumerate(results, 1):
        print(json.dumps({"rank": rank, **result}, ensure_ascii=False))
    return results


COMMANDS = {
    "train": ([RecommenderData, RecommenderConfig, RecommenderRun,
               RecommenderTrainingConfig, PeftArgs], train_recommender),
    "evaluate": ([RunFolder, EvaluateArgs], evaluate),
    "export": ([RunFolder, ExportArgs], export),
    "recommend": ([RunFolder, RecommendArgs], recommend),
}

COMMAND_HELP = {
    "train": "split the interactions, train a recommender, write a run "
             "folder with validation and test metrics",
    "evaluate": "Recall@k, NDCG@k and coverage of a run folder",
    "export": "export a SavedModel (item ids in, top-k items out)",
    "recommend": "top-k items for a user or a list of item ids",
}


def build_parser(prog=None):
    """The argument parser of `tfllm recommend`: one subcommand per entry
    of `COMMANDS`, each a `DataclassParser`."""
    return build_subcommand_parser(COMMANDS, COMMAND_HELP, __doc__, prog)


def main(argv=None):
    """Runs one subcommand; returns what it returns."""
    return run_subcommand(build_parser(), COMMANDS, argv)


def cli():
    """Console-script entry point (user errors: one line, exit 2)."""
    from tfllm.cli.args import run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()
