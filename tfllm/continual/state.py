"""Task-boundary checkpoints of a continual run, so a killed run resumes.

After each task the learner writes `<run_dir>/continual_state/` atomically
(written aside, then renamed): the model's weights, the scores so far, and
each method's own state (the replay memory, the EWC penalty's tensors, the
per-task adapters and the router's statistics). A rerun with the same
settings loads it and goes on with the next task; the task in progress when
the run was killed is trained again from its start.
"""

import json
import pathlib
import pickle

import numpy as np

from tfllm.data.errors import UserInputError

from tfllm.utils.atomic import atomic_path

FOLDER = "continual_state"


def save_state(learner, run_dir, done, progress):
    """Writes the state after task `done` (0-based) into `run_dir`.

    Args:
        learner: `ContinualLearner` after the task.
        run_dir: str or path.
        done: int. The last finished task.
        progress: dict of the run's scores so far (`R`, `baseline`,
            `routed`, `routing`, `seconds`); numpy arrays or lists.
    """
    final = pathlib.Path(run_dir) / FOLDER
    with atomic_path(final) as folder:
        folder.mkdir(parents=True)
        learner.model.save_weights(str(folder / "model.weights.h5"))
        extra = {"memory": getattr(learner, "memory", None),
                 "adapters": getattr(learner, "adapters", None),
                 "router": getattr(getattr(learner, "router", None),
                                   "stats", None),
                 "progress": progress, "global_step": learner._global_step}
        penalty = getattr(learner, "penalty", None)
        if penalty is not None:
            extra["ewc"] = {
                "tasks": penalty.tasks,
                "precision": [v.numpy() for v in penalty.precision],
                "center": [v.numpy() for v in penalty.center],
                "constant": float(penalty.constant.numpy())}
        with open(folder / "state.pkl", "wb") as handle:
            pickle.dump(extra, handle)
        (folder / "state.json").write_text(json.dumps({
            "done": int(done), "tasks": [t.name for t in learner.tasks],
            "config": learner.config.get_config()}, indent=2) + "\n")


def load_state(learner, run_dir):
    """Restores the state of an earlier run of the same settings.

    Args:
        learner: `ContinualLearner`, built (`_build`) but not trained.
        run_dir: str or path, or None.

    Returns:
        `(done, progress)`, or `(None, None)` when `run_dir` holds no state.

    Raises:
        ValueError: the state was written with other tasks or settings
            (its file is named; start a new run folder).
    """
    if run_dir is None:
        return None, None
    folder = pathlib.Path(run_dir) / FOLDER
    if not (folder / "state.json").is_file():
        return None, None
    meta = json.loads((folder / "state.json").read_text())
    names = [t.name for t in learner.tasks]
    config = learner.config.get_config()
    differ = [f"{key} {meta['config'].get(key)!r} (now {value!r})"
              for key, value in config.items()
              if meta["config"].get(key) != value]
    if meta["tasks"] != names:
        differ.insert(0, f"tasks {meta['tasks']} (now {names})")
    if differ:
        raise UserInputError(
            f"{folder / 'state.json'}: this run folder was trained with "
            f"other settings: " + "; ".join(differ) + ". Rerun with those "
            f"settings to resume, or use a new --run-name")
    learner.model.load_weights(str(folder / "model.weights.h5"))
    with open(folder / "state.pkl", "rb") as handle:
        extra = pickle.load(handle)
    if extra.get("memory") is not None:
        learner.memory = extra["memory"]
    if extra.get("adapters") is not None:
        learner.adapters = extra["adapters"]
    if extra.get("router") is not None:
        learner.router.stats = extra["router"]
    ewc = extra.get("ewc")
    if ewc is not None:
        penalty = learner.penalty
        for variable, value in zip(penalty.precision, ewc["precision"]):
            variable.assign(value)
        for variable, value in zip(penalty.center, ewc["center"]):
            variable.assign(value)
        penalty.constant.assign(ewc["constant"])
        penalty.tasks = ewc["tasks"]
    learner._global_step = extra.get("global_step", 0)
    progress = {key: (np.asarray(value) if key in ("R", "baseline", "routed")
                      and value is not None else value)
                for key, value in extra["progress"].items()}
    return int(meta["done"]), progress
