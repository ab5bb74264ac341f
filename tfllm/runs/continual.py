"""`tfllm train continual`: a task sequence on one model, with its report.

The run folder holds `config.yaml`/`config.json`, `continual.json` (the
matrix `R`, average accuracy, BWT, forgetting, forward transfer), the heat
map `continual_R.png`, TensorBoard logs under `logs/`, and
`continual_state/`, the checkpoint written after each task: running the
same command again resumes after the last finished task.
"""

import dataclasses
import pathlib
import time
from typing import Optional

from tfllm.config import help_field as _help


@dataclasses.dataclass
class ContinualData:
    """Which tasks, in which order, and how much of each."""

    tasks: str = _help(
        "comma-separated dataset names, trained in this order: single-label "
        "classification datasets (sst2, fpb-allagree, banking77, "
        "chnsenticorp, ...) or NER datasets (conll2003, cluener2020, "
        "weibo_ner), not mixed", "sst2,fpb-allagree,banking77")
    max_train_examples: Optional[int] = _help(
        "seeded subsample of each task's training split (none: all of it)")
    max_eval_examples: Optional[int] = _help(
        "seeded subsample of each task's validation split (none: all of "
        "it)")
    data_seed: int = _help("seed of those subsamples", 0)
    backbone: str = _help("minilm (English), multilingual-e5-small "
                          "(Chinese and English), or a checkpoint folder",
                          "minilm")
    word_splitter: str = _help(
        "whitespace, or cjk_chars (one word per Chinese character; NER "
        "datasets in Chinese need it)", "whitespace")
    precision: str = _help("fp32, mixed_bfloat16 (fast on CPUs with "
                           "bfloat16 units and on TPUs) or mixed_float16 "
                           "(GPUs)", "fp32")
    output_dir: str = _help("folder of the run folders", "runs")
    run_name: Optional[str] = _help("run folder name (default: "
                                    "continual-<method>-<time>); an "
                                    "existing one resumes after its last "
                                    "finished task")


def run(data, config):
    """Loads the tasks, trains them with `ContinualLearner`, writes the
    report; returns the run folder (`pathlib.Path`).

    Raises:
        ValueError: an unknown dataset or setting.
        DatasetNotFoundError: a dataset is not on disk.
    """
    import tensorflow as tf

    from tfllm.continual.learner import ContinualLearner
    from tfllm.continual.report import format_summary
    from tfllm.continual.report import write_report
    from tfllm.continual.tasks import load_task
    from tfllm.runs.run_config import write_run_config

    from tfllm.training.precision import set_precision

    set_precision(data.precision)
    names = [n.strip() for n in data.tasks.split(",") if n.strip()]
    if not names:
        from tfllm.data.errors import UserInputError

        raise UserInputError("--tasks names no dataset")
    # Load every task first: a bad name or file leaves no run folder.
    tasks = [load_task(name, None, data.max_train_examples,
                       data.max_eval_examples, data.data_seed)
             for name in names]
    if not data.run_name:
        data = dataclasses.replace(data, run_name=time.strftime(
            f"continual-{config.method}-%Y%m%d-%H%M%S"))
    run_dir = pathlib.Path(data.output_dir) / data.run_name
    # config.yaml names the run folder: `--config` of it resumes there.
    write_run_config(run_dir, data, config)
    for task in tasks:
        print(f"task {task.name}: {len(task.train_x)} training and "
              f"{len(task.eval_x)} validation examples, "
              f"{len(task.labels)} labels", flush=True)
    writer = tf.summary.create_file_writer(str(run_dir / "logs"))
    learner = ContinualLearner(tasks, config, data.backbone,
                               data.word_splitter, writer=writer,
                               state_dir=run_dir)
    result = learner.run()
    summary = write_report(result, run_dir, writer)
    print(format_summary(summary))
    print(f"report: {run_dir / 'continual.json'}, heat map: "
          f"{run_dir / 'continual_R.png'}, TensorBoard: "
          f"tensorboard --logdir {run_dir / 'logs'}")
    return run_dir
