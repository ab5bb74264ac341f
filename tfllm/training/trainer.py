"""The training loop shared by every task: compile, fit, evaluate, resume.

`model.fit` drives the loop (its progress bar, `tf.function`, distribution
and loss scaling); the task model owns `train_step`. This module adds what a
fine-tuning run needs around it: AdamW with warmup, per-epoch evaluation
with the best epoch kept, TensorBoard scalars and a resumable checkpoint.
"""

import dataclasses
import json
import pathlib
import sys

import keras

from tfllm.data.pipeline import make_dataset
from tfllm.data.pipeline import steps_per_epoch
from tfllm.training.callbacks import EpochEvaluation
from tfllm.training.callbacks import resume_state
from tfllm.training.optimizers import make_adamw


@dataclasses.dataclass
class TrainingConfig:
    """Optimisation settings of a fine-tuning run.

    Attributes:
        epochs: int. Passes over the training sequences.
        batch_size: int. Global batch size in sequences (NER windows or
            texts).
        learning_rate: float. Peak AdamW learning rate.
        warmup_ratio: float. Fraction of updates with linear warmup.
        weight_decay: float. Decoupled weight decay (not on biases/LayerNorm).
        max_grad_norm: float. Global gradient-norm clip.
        seed: int. Seeds weights of new layers, dropout and shuffling.
        jit_compile: bool. Compile the train step with XLA.
    """

    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 42
    jit_compile: bool = False


def train(model, encoded, config, run_dir, evaluate_fn, monitor, loss):
    """Fine-tunes `model` on encoded sequences, evaluating every epoch.

    The one training loop of every task: token classification passes
    sub-token windows with a label per token, text classification whole
    texts with a label (or a multi-hot vector) per text.

    A run folder that holds a checkpoint from an interrupted run is resumed:
    model weights, optimizer moments and step (hence the learning-rate
    schedule) are restored and training continues at the next epoch.

    Args:
        model: a task model (`TokenClassifier`, `TextClassifier`) with a
            `preprocessor` that has a `sequence_length`.
        encoded: `tfllm.data.pipeline.EncodedWindows` for training (from
            `encode_token_classification` or `encode_text_classification`).
        config: `TrainingConfig`.
        run_dir: str or path. Receives `metrics.jsonl`, `best.weights.h5`,
            `checkpoint/` and TensorBoard logs (`train/`, `validation/`).
        evaluate_fn: callable `model -> (scalars, details)`.
        monitor: str. Scalar of `evaluate_fn` that picks the best epoch.
        loss: a Keras loss object (its reduction decides normalisation).

    Returns:
        `(model, history)`: the model with the best epoch's weights (may be a
        reloaded object when resuming) and the list of per-epoch records.
    """
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    max_length = model.preprocessor.sequence_length
    steps = steps_per_epoch(encoded, config.batch_size, max_length)
    total_steps = steps * config.epochs
    resumed, epochs_done = resume_state(run_dir)
    if resumed is not None:
        model = resumed
        print(f"resuming {run_dir} after epoch {epochs_done}")
    else:
        model.compile(
            optimizer=make_adamw(
                config.learning_rate,
                total_steps,
                config.warmup_ratio,
                config.weight_decay,
                config.max_grad_norm,
            ),
            loss=loss,
            jit_compile=config.jit_compile,
        )
    dataset = make_dataset(
        encoded, config.batch_size, max_length, shuffle=True,
        seed=config.seed, repeat=True,
    )
    evaluation = EpochEvaluation(
        run_dir, evaluate_fn, monitor, encoded.num_tokens
    )
    tensorboard = keras.callbacks.TensorBoard(
        log_dir=str(run_dir), update_freq=50, write_graph=False
    )
    (run_dir / "training_config.json").write_text(
        json.dumps(
            dataclasses.asdict(config)
            | {"steps_per_epoch": steps, "total_steps": total_steps},
            indent=2,
        )
        + "\n"
    )
    if epochs_done < config.epochs:
        model.fit(
            dataset,
            epochs=config.epochs,
            initial_epoch=epochs_done,
            steps_per_epoch=steps,
            callbacks=[evaluation, tensorboard],
            verbose=1 if sys.stdout.isatty() else 2,
        )
    else:  # already trained: just restore the best epoch's weights
        evaluation.set_model(model)
        evaluation.on_train_end()
    return model, evaluation.history
