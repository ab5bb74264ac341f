"""The training loop shared by every task: compile, fit, evaluate, resume.

`model.fit` drives the loop (its progress bar, `tf.function`, distribution
and loss scaling); the task model owns `train_step`. This module adds what a
fine-tuning run needs around it: AdamW with warmup, per-epoch evaluation
with the best epoch kept, TensorBoard scalars and a resumable checkpoint.
"""

import dataclasses
import json
import pathlib
from typing import Optional

import tensorflow as tf

from tfllm.config import help_field
from tfllm.data.pipeline import make_dataset
from tfllm.data.pipeline import padded_batch_shapes
from tfllm.data.pipeline import steps_per_epoch
from tfllm.peft.registry import training_callbacks
from tfllm.training import tracking
from tfllm.training.adversarial import AdversarialSettings
from tfllm.training.callbacks import BEST_WEIGHTS
from tfllm.training.callbacks import EpochEvaluation
from tfllm.training.callbacks import NonFiniteLossError
from tfllm.training.callbacks import StepCheckpoint
from tfllm.training.callbacks import TensorBoard
from tfllm.training.callbacks import resume_state
from tfllm.training.distribute import is_chief
from tfllm.training.optimizers import head_learning_rate_multipliers
from tfllm.training.optimizers import make_adamw
from tfllm.training.progress import StepProgress
from tfllm.training.progress import keras_verbosity
from tfllm.training.schedules import WarmupLinearDecay
from tfllm.utils.logging import get_logger

logger = get_logger(__name__)

# Fewer optimizer updates than this draw a warning (and a hint when the
# monitored score ends at 0): with the default warmup_ratio 0.1 that is
# fewer than 10 warmup updates. A pre-trained encoder fine-tuned for a few
# dozen updates usually still predicts the majority label (entity F1 0.0).
SHORT_RUN_UPDATES = 100


@dataclasses.dataclass
class TrainingConfig:
    """Optimisation settings of a fine-tuning run.

    Attributes:
        epochs: int. Passes over the training sequences.
        batch_size: int. Global batch size in sequences (NER windows or
            texts).
        learning_rate: float. Peak AdamW learning rate.
        head_learning_rate: float or None. Peak learning rate of the task's
            own layers outside the backbone (classifier head, casing
            embedding, CRF); None: `learning_rate`. Fine-tuning practice
            gives a new head a higher rate than the pre-trained encoder
            (the CLUENER BERT-CRF baselines: ~1e-3 to 2e-3 against 3e-5).
            Applied per variable by the optimizer
            (`FusedAdamW.learning_rate_multipliers`), with the same warmup
            and decay.
        warmup_ratio: float. Fraction of updates with linear warmup.
        weight_decay: float. Decoupled weight decay (not on biases/LayerNorm).
        max_grad_norm: float. Global gradient-norm clip.
        seed: int. Seeds weights of new layers, dropout and shuffling.
        jit_compile: bool. Compile the train step with XLA; batches are then
            padded to their length bucket's upper bound, so only a few
            shapes are compiled.
        precision: str. `fp32`, `mixed_float16` or `mixed_bfloat16`
            (`tfllm.training.precision`).
        strategy: str. `auto`, `one_device`, `mirrored` or `multi_worker`
            (`tfllm.training.distribute`).
        grad_accum_steps: int. Micro-batches of `batch_size` per optimizer
            update; the update equals one batch that many times larger
            (each step reads that larger batch and runs its micro-batches
            one after the other). Steps and checkpoints count updates.
        checkpoint_every_steps: int. Steps between resumable checkpoints
            (0: only at epoch ends).
        keep_checkpoints: int. Checkpoint files kept.
        early_stopping_patience: int. Stop after this many epochs without a
            better validation score (0: never).
        deterministic: bool. Enable TensorFlow's deterministic ops.
        log_every_steps: int. When the output is not a terminal, a progress
            line (step, loss, tokens/s, ETA) every N steps; 0 (default):
            about every 30 s and at every tenth of the epoch. On a terminal
            Keras' progress bar shows every step instead.
        report_to: str. Where the run is recorded: a comma list of
            `tensorboard`, `wandb`, `mlflow`, or `none`
            (`tfllm.training.tracking`; wandb and mlflow need
            `pip install "tfllm[tracking]"`).
        adversarial: str. Adversarial training on the word embeddings:
            `none` (default), `fgm` or `pgd` (`tfllm.training.adversarial`).
        adversarial_epsilon: float. L2 norm of the FGM perturbation of the
            embedding matrix, radius of the PGD ball.
        pgd_steps: int. PGD ascent steps K.
        pgd_alpha: float. L2 norm of each PGD ascent step.
        rdrop_alpha: float. Weight of R-Drop's symmetric KL between two
            dropout passes (`tfllm.training.rdrop`); 0: off.
        ema_decay: float. Decay of an exponential moving average of the
            weights used for evaluation and the saved model
            (`tfllm.training.ema`); 0: off.
    """

    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-4
    head_learning_rate: Optional[float] = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 42
    jit_compile: bool = False
    precision: str = "fp32"
    strategy: str = "auto"
    grad_accum_steps: int = 1
    checkpoint_every_steps: int = 500
    keep_checkpoints: int = 2
    early_stopping_patience: int = 0
    deterministic: bool = False
    log_every_steps: int = 0
    report_to: str = help_field(
        "where the run is recorded: a comma list of tensorboard, wandb "
        "(offline unless WANDB_MODE/an API key say otherwise; files in the "
        "run folder), mlflow (store <run folder>/mlruns unless "
        "MLFLOW_TRACKING_URI is set), or none; wandb and mlflow need "
        'pip install "tfllm[tracking]"', "tensorboard")
    adversarial: str = help_field(
        "adversarial training on the word embeddings: none, fgm (Miyato et "
        "al. 2017; a step costs ~2x: one more forward and backward pass) "
        "or pgd (Madry et al. 2018, K-step embedding PGD; ~(K+1)x); one "
        "replica only", "none")
    adversarial_epsilon: float = help_field(
        "L2 norm of the FGM perturbation of the embedding matrix, radius "
        "of the PGD ball (the BERT fine-tuning recipe: 1.0)", 1.0)
    pgd_steps: int = help_field(
        "PGD ascent steps K, each a forward and backward pass", 3)
    pgd_alpha: float = help_field(
        "L2 norm of each PGD ascent step (the BERT recipe: 0.3)", 0.3)
    rdrop_alpha: float = help_field(
        "R-Drop (Liang et al. 2021): weight of the symmetric KL between "
        "two dropout passes of each batch; 0 (default) is off; a step "
        "costs ~2x forward and backward; papers use 0.1 to 5", 0.0)
    ema_decay: float = help_field(
        "exponential moving average of the weights (Polyak averaging) "
        "with this decay, e.g. 0.999, used for every evaluation and the "
        "saved best model; 0 (default) is off; costs one copy of the "
        "weights", 0.0)


def _extend_schedule(optimizer, total_updates):
    """Fits a resumed run's schedule to this start's `--epochs`.

    The checkpoint holds the schedule of the first start; resumed with more
    epochs, its decay would already have reached 0 and the extra epochs
    would not train. As Hugging Face's Trainer (which rebuilds the schedule
    from the new arguments), the decay now ends at this start's last
    update; warmup and the peak stay as they were.
    """
    schedule = getattr(optimizer, "_learning_rate", None)
    if (isinstance(schedule, WarmupLinearDecay)
            and schedule.total_steps != total_updates):
        total = max(total_updates, schedule.warmup_steps + 1)
        print(f"learning-rate schedule: decay now ends at update {total} "
              f"(was {schedule.total_steps}): --epochs changed")
        schedule.total_steps = total


def strategy_settings(config):
    """Checks the training-strategy fields of a `TrainingConfig`.

    Args:
        config: `TrainingConfig`.

    Returns:
        `AdversarialSettings`, or None when `config.adversarial` is
        `"none"`.

    Raises:
        ValueError: unknown `adversarial`, a non-positive epsilon, PGD
            steps or step size, a negative `rdrop_alpha`, an `ema_decay`
            outside [0, 1), or adversarial training under a strategy with
            several replicas.
    """
    if config.rdrop_alpha < 0:
        raise ValueError(
            f"rdrop_alpha must be >= 0, got {config.rdrop_alpha}")
    if not 0 <= config.ema_decay < 1:
        raise ValueError(
            f"ema_decay must be in [0, 1), got {config.ema_decay}")
    settings = AdversarialSettings(
        config.adversarial, config.adversarial_epsilon, config.pgd_steps,
        config.pgd_alpha)
    if settings.method == "none":
        return None
    from tfllm.training.adversarial import check_replicas

    check_replicas()
    return settings


def _check_resumed_ema(optimizer, ema_decay):
    """Warns when a resumed run's checkpoint has another EMA setting."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    saved = (optimizer.ema_momentum if getattr(optimizer, "use_ema", False)
             else 0.0)
    if abs(saved - ema_decay) > 1e-12:
        logger.warning(
            "ema_decay %g given, but the checkpoint was trained with %g: "
            "the resumed run keeps the checkpoint's %g", ema_decay, saved,
            saved)


def warn_if_short(total_updates, steps, config):
    """Warns when a run has too few optimizer updates to fine-tune.

    Rule: fewer than `SHORT_RUN_UPDATES` (100) updates in all, i.e. fewer
    than 10 warmup updates at the default `warmup_ratio` 0.1, or a warmup
    that takes every update. The message gives the numbers and the fixes.

    Args:
        total_updates: int. Optimizer updates of the whole run.
        steps: int. Updates per epoch.
        config: `TrainingConfig`.

    Returns:
        bool. Whether the warning was issued.
    """
    warmup = int(round(config.warmup_ratio * total_updates))
    if total_updates >= SHORT_RUN_UPDATES and warmup < total_updates - 1:
        return False
    accumulation = max(1, config.grad_accum_steps)
    logger.warning(
        "this run makes only %d optimizer updates (%d per epoch x %d "
        "epochs, %d sequences per update); warmup takes %d of them "
        "(warmup_ratio %g) and the learning rate then decays to 0, so the "
        "model may learn little (a validation F1 of 0.0 is common). "
        "Fine-tuning usually needs a few hundred updates: train more epochs "
        "or on more examples (--epochs, --max-train-examples; in Python "
        "epochs= and more data), use a smaller batch size (--batch-size, "
        "batch_size=) or a smaller warmup ratio (--warmup-ratio, "
        "warmup_ratio=).",
        total_updates, steps, config.epochs,
        config.batch_size * accumulation, warmup, config.warmup_ratio)
    return True


def train(model, encoded, config, run_dir, evaluate_fn, monitor, loss,
          max_length=None, batch_transform=None, monitor_mode="max",
          run_settings=None):
    """Fine-tunes `model` on encoded sequences, evaluating every epoch.

    The one training loop of every task: token classification passes
    sub-token windows with a label per token, text classification whole
    texts with a label (or a multi-hot vector) per text.

    Every `config.checkpoint_every_steps` steps and at every epoch end, model
    and optimizer are checkpointed. A run folder that holds a checkpoint is
    resumed from it: weights, optimizer moments and step (hence the
    learning-rate schedule), dropout RNG state, and the position in the
    input stream (the seeded stream is rebuilt and the steps already done
    are skipped), so an interrupted run ends with the weights of an
    uninterrupted one.

    Call it inside `strategy.scope()` when training with a `tf.distribute`
    strategy; sample weights are normalised per optimizer update
    (`tfllm.data.pipeline.normalize_weights`), so `loss` must use
    `reduction="sum"`.

    Args:
        model: a task model (`TokenClassifier`, `TextClassifier`) with a
            `preprocessor` that has a `sequence_length`.
        encoded: `tfllm.data.pipeline.EncodedWindows` for training (from
            `encode_token_classification` or `encode_text_classification`),
            or any training data with the methods
            `steps_per_epoch(batch_size)` and
            `make_dataset(batch_size, shuffle, seed, repeat)` and the
            attributes `num_tokens` and `unit` (what it counts, e.g.
            `tfllm.recommendation.examples.RetrievalExamples`).
        config: `TrainingConfig`.
        run_dir: str or path. Receives `metrics.jsonl`, `best.weights.h5`,
            `checkpoint/` and TensorBoard logs (`train/`, `validation/`).
        evaluate_fn: callable `model -> (scalars, details)`.
        monitor: str. Scalar of `evaluate_fn` that picks the best epoch.
        loss: a Keras loss object with `reduction="sum"`.
        max_length: int or None. Longest sequence; None takes the
            preprocessor's `sequence_length` (models without a
            preprocessor, such as the language models, must pass it).
        batch_transform: None or callable `(index, batch) -> batch`, see
            `tfllm.data.pipeline.make_dataset` (dynamic masking).
        monitor_mode: str. `"max"` (default) or `"min"`: whether a higher
            or a lower `monitor` is better (e.g. validation loss).
        run_settings: dict or None. The run's other settings (e.g.
            `dataclasses.asdict(ner_config)`), recorded with `config`'s
            fields as the parameters of the wandb/mlflow runs of
            `config.report_to`; send the final report with
            `tfllm.training.tracking.log_final_report(run_dir, summary)`.

    Returns:
        `(model, history)`: the model with the best epoch's weights (may be a
        reloaded object when resuming) and the list of per-epoch records.

    Raises:
        ValueError: `loss` does not sum, the checkpoint is unreadable, or
            `config.report_to` names an unknown backend.
        ImportError: `config.report_to` names wandb/mlflow, not installed.
        NonFiniteLossError: the loss became NaN or infinite; the last good
            checkpoint is kept.
    """
    if getattr(loss, "reduction", "sum") != "sum":
        raise ValueError(
            "train() normalises sample weights per update; pass a loss with "
            f"reduction='sum', got {loss.reduction!r}"
        )
    report_to = tracking.parse_report_to(config.report_to)
    adversarial = strategy_settings(config)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Token windows (EncodedWindows) or other examples that build their
    # own pipeline (the recommender's RetrievalExamples).
    own_pipeline = hasattr(encoded, "make_dataset")
    unit = getattr(encoded, "unit", "tokens")
    if max_length is None and not own_pipeline:
        max_length = model.preprocessor.sequence_length
    # Gradient accumulation runs inside the train step: each step takes
    # one batch of `batch_size x grad_accum_steps` windows (one update) and
    # cuts it into micro-batches of `batch_size` (tfllm.training.steps).
    accumulation = max(1, config.grad_accum_steps)
    update_batch = config.batch_size * accumulation
    steps = (encoded.steps_per_epoch(update_batch) if own_pipeline
             else steps_per_epoch(encoded, update_batch, max_length))
    total_updates = steps * config.epochs
    short_run = warn_if_short(total_updates, steps, config)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    clip_in_step = replicas > 1 and bool(config.max_grad_norm)
    resumed, global_step = resume_state(run_dir)
    if resumed is not None:
        model = resumed
        print(f"resuming {run_dir} at step {global_step}")
        if global_step >= total_updates:
            logger.warning(
                "%s already holds a finished run (%d of %d optimizer "
                "updates): nothing is left to train, and the model now has "
                "that run's weights. To train again, give another run folder "
                "(run_dir= in Python, --run-name on the command line).",
                run_dir, global_step, total_updates)
        _extend_schedule(model.optimizer, total_updates)
    else:
        multipliers = None
        if config.head_learning_rate is not None:
            multipliers = head_learning_rate_multipliers(
                model, config.head_learning_rate / config.learning_rate)
            print(f"head learning rate {config.head_learning_rate:g} on "
                  f"{', '.join(p[1:-1] for p in multipliers)}")
        model.compile(
            optimizer=make_adamw(
                config.learning_rate,
                total_updates,
                config.warmup_ratio,
                config.weight_decay,
                None if clip_in_step else config.max_grad_norm,
                multipliers,
                config.ema_decay,
            ),
            loss=loss,
            jit_compile=config.jit_compile,
        )
    # With several replicas the train step clips the summed gradient itself
    # (tfllm.training.steps): Keras would clip each replica's part.
    model.replica_clipnorm = config.max_grad_norm if clip_in_step else None
    model.micro_batches = accumulation
    # Training strategies read by the train step (tfllm.training.steps).
    model.adversarial = adversarial
    model.rdrop_alpha = config.rdrop_alpha
    if resumed is not None:
        _check_resumed_ema(model.optimizer, config.ema_decay)
    if own_pipeline:
        dataset = encoded.make_dataset(update_batch, shuffle=True,
                                       seed=config.seed, repeat=True)
    else:
        dataset = make_dataset(
            encoded, update_batch, max_length, shuffle=True,
            seed=config.seed, repeat=True,
            pad_to_bucket_boundary=config.jit_compile,
            accumulation_steps=1,
            batch_transform=batch_transform,
        )
    evaluation = EpochEvaluation(
        run_dir, evaluate_fn, monitor, encoded.num_tokens,
        config.early_stopping_patience, mode=monitor_mode, unit=unit,
    )
    checkpoints = StepCheckpoint(
        run_dir, config.checkpoint_every_steps, config.keep_checkpoints,
        global_step,
    )
    # Model-specific work between steps and evaluation (the recommender's
    # refresh of its cached item encodings) runs first.
    callbacks = list(getattr(model, "training_callbacks", list)())
    callbacks += [checkpoints, evaluation]
    if "tensorboard" in report_to:
        callbacks.append(TensorBoard(
            log_dir=str(run_dir), update_freq=50, write_graph=False))
    if is_chief():  # wandb/mlflow runs: after EpochEvaluation (val_ logs)
        callbacks += tracking.make_trackers(
            report_to, run_dir,
            dataclasses.asdict(config) | {"steps_per_epoch": steps,
                                          "optimizer_updates": total_updates}
            | (run_settings or {}),
            getattr(config, "log_every_steps", None)
            or tracking.DEFAULT_LOG_EVERY_STEPS,
            global_step)
    # PEFT methods that act between steps (AdaLoRA's rank allocation).
    callbacks += training_callbacks(model, total_updates, run_dir)
    (run_dir / "training_config.json").write_text(
        json.dumps(
            dataclasses.asdict(config)
            | {"steps_per_epoch": steps, "optimizer_updates": total_updates},
            indent=2,
        )
        + "\n"
    )
    if config.jit_compile and not own_pipeline:
        shapes = padded_batch_shapes(encoded, update_batch, max_length)
        print(f"XLA: batches take {len(shapes)} distinct shapes, so the "
              f"train step is compiled at most {len(shapes)} times: {shapes}")
    epoch, offset = divmod(global_step, steps)
    verbose = keras_verbosity()
    progress = None
    if verbose == 2:  # redirected output: a line every few steps
        progress = StepProgress(steps, config.epochs, encoded.num_tokens,
                                config.log_every_steps, unit=unit)
        callbacks.append(progress)
    while epoch < config.epochs and not model.stop_training:
        # A resumed run first finishes its interrupted epoch.
        evaluation.set_partial_epoch((steps - offset) / steps)
        if progress is not None:
            progress.set_steps(steps - offset if offset else steps)
        model.fit(
            dataset.skip(global_step),
            epochs=epoch + 1 if offset else config.epochs,
            initial_epoch=epoch,
            steps_per_epoch=steps - offset if offset else steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # make_dataset shuffles; Keras warns otherwise
        )
        if checkpoints.failure:
            raise NonFiniteLossError(checkpoints.failure)
        if not offset:
            break
        global_step += steps - offset
        epoch, offset = epoch + 1, 0
    if (short_run and monitor_mode == "max" and evaluation.best is not None
            and evaluation.best <= 0.0):
        logger.warning(
            "validation %s is %g after only %d optimizer updates: the run "
            "was too short to learn (see the warning at its start); train "
            "longer or on more examples.", monitor, evaluation.best,
            total_updates)
    best = run_dir / BEST_WEIGHTS
    if best.is_file():
        model.load_weights(best)
    return model, evaluation.history
