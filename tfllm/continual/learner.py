"""Fine-tuning one model on a sequence of tasks, and scoring what it keeps.

`ContinualLearner` trains the tasks of a sequence one after another on one
encoder with a head per task (`tfllm.continual.model.MultiHeadModel`), by
one of these methods:

- `sequential`: plain fine-tuning, task after task (the lower bound);
- `replay`: experience replay, a reservoir memory of past examples mixed
  into every batch (Chaudhry et al. 2019; `tfllm.continual.replay`);
- `ewc`: elastic weight consolidation (Kirkpatrick et al. 2017;
  `tfllm.continual.ewc`);
- `lora`: one LoRA adapter (Hu et al. 2021) and head per task over a frozen
  backbone; the task of an input is given, or predicted by a router over
  the frozen encoder's features (`tfllm.continual.routing`);
- `multitask`: every task at once, shuffled together (the upper bound).

After each task every task seen so far is scored on its evaluation split,
which fills the accuracy matrix `R` (`tfllm.continual.metrics`).
"""

import dataclasses
import math
import time
from typing import Optional

import numpy as np

from tfllm.config import help_field as _help
from tfllm.continual import metrics
from tfllm.continual.tasks import CLASSIFICATION
from tfllm.data.errors import UserInputError

METHODS = ("sequential", "replay", "ewc", "lora", "multitask")


@dataclasses.dataclass
class ContinualConfig:
    """How a task sequence is trained (`tfllm train continual` flags)."""

    method: str = _help("sequential, replay, ewc, lora (one adapter per "
                        "task) or multitask (all tasks at once: the upper "
                        "bound)", "sequential")
    epochs: int = _help("epochs over each task's training split", 2)
    batch_size: int = _help("examples of the current task per update", 32)
    learning_rate: float = _help(
        "peak AdamW learning rate (linear warmup and decay per task); "
        "LoRA usually wants about 10 times the full fine-tuning rate", 5e-5)
    warmup_ratio: float = _help("share of each task's updates spent "
                                "warming up", 0.1)
    weight_decay: float = _help("AdamW decoupled weight decay", 0.01)
    max_length: int = _help("longest input in sub-tokens (longer NER "
                            "sentences are split into windows)", 128)
    dropout: float = _help("dropout before the task heads", 0.1)
    replay_size: int = _help("replay: examples kept in the reservoir "
                             "memory", 1000)
    replay_batch_size: Optional[int] = _help(
        "replay: memory examples added to each batch (none: as many as "
        "--batch-size)")
    ewc_lambda: float = _help("ewc: strength lambda of the quadratic "
                              "penalty", 1e4)
    fisher_examples: int = _help("ewc: training examples whose gradients "
                                 "estimate the Fisher information", 200)
    freeze_embeddings: bool = _help(
        "keep the token embedding matrix fixed (not for lora, which freezes "
        "the whole backbone): much faster with large vocabularies "
        "(multilingual-e5-small: 96 M of its 118 M weights)", False)
    lora_rank: int = _help("lora: rank r of each adapter", 8)
    lora_alpha: float = _help("lora: alpha (the update is scaled by "
                              "alpha / r)", 16.0)
    router_examples: int = _help(
        "lora: training examples per task whose frozen-encoder features "
        "fit the task router", 1000)
    score_next: bool = _help(
        "also score the next task after each one (forward transfer)", True)
    seed: int = _help("seeds weights, shuffling and the memory", 0)

    def __post_init__(self):
        if self.method not in METHODS:
            raise UserInputError(f"method must be one of {METHODS}, got "
                             f"{self.method!r}")
        for name in ("epochs", "batch_size", "max_length", "lora_rank"):
            if getattr(self, name) < 1:
                raise UserInputError(f"{name} must be >= 1, got "
                                 f"{getattr(self, name)}")
        if self.replay_size < 0 or self.fisher_examples < 1:
            raise UserInputError("replay_size must be >= 0 and fisher_examples "
                             ">= 1")

    def get_config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@dataclasses.dataclass
class ContinualResult:
    """What a run measured.

    Attributes:
        tasks: list of str, in training order.
        method: str.
        R: `[T, T]` float array (NaN above the diagonal except, with
            `score_next`, the first super-diagonal); for `multitask` a
            single row `[1, T]`.
        baseline: `[T]` float array or None: scores before any training.
        routed_R: `[T, T]` or None: `lora` with the task predicted by the
            router instead of given.
        routing_accuracy: list of float or None: after each task, the
            router's accuracy over the evaluation inputs of the tasks seen.
        seconds: list of float: training seconds per task.
        metric: str. `accuracy` or `entity_f1`.
    """

    tasks: list
    method: str
    R: np.ndarray
    baseline: Optional[np.ndarray]
    routed_R: Optional[np.ndarray]
    routing_accuracy: Optional[list]
    seconds: list
    metric: str

    def summary(self):
        """The figures as a JSON-ready dict (`metrics.summarize` plus the
        run's settings)."""
        if self.method == "multitask":
            scores = [float(v) for v in self.R[0]]
            out = {"average_accuracy": float(np.mean(scores)),
                   "scores": dict(zip(self.tasks, scores)),
                   "R": [scores]}
        else:
            lower = np.where(np.tril(np.ones_like(self.R)) > 0, self.R,
                             np.nan)
            out = metrics.summarize(lower)
            fwt = metrics.forward_transfer(self.R, self.baseline)
            out["forward_transfer"] = None if fwt is None or math.isnan(
                fwt) else fwt
            out["R"] = [[None if math.isnan(v) else float(v) for v in row]
                        for row in self.R]
        out.update({"tasks": list(self.tasks), "method": self.method,
                    "metric": self.metric,
                    "seconds_per_task": [round(s, 1) for s in self.seconds]})
        if self.baseline is not None:
            out["baseline"] = [float(v) for v in self.baseline]
        if self.routed_R is not None:
            routed = metrics.summarize(self.routed_R)
            out["routed"] = {
                "average_accuracy": routed["average_accuracy"],
                "backward_transfer": routed["backward_transfer"],
                "forgetting": routed["forgetting"], "R": routed["R"],
                "routing_accuracy": self.routing_accuracy}
        return out


def _bucket(length, limit):
    return int(min(limit, max(16, int(math.ceil(length / 16.0)) * 16)))


def pad_batch(examples, limit):
    """Pads `(token_ids, label, weight, task)` examples to one length.

    Args:
        examples: list of tuples as `Encoded.example` gives.
        limit: int. Longest allowed length (the model's `max_length`).

    Returns:
        dict of numpy arrays: `token_ids`, `padding_mask` int32
        `[B, L]`; `labels` int32 `[B]` or `[B, L]`; `weights` float32
        `[B]` or `[B, L]`; `tasks` int32 `[B]`. `L` is the batch's longest
        input rounded up to a multiple of 16 (at most `limit`).
    """
    length = _bucket(max(len(e[0]) for e in examples), limit)
    count = len(examples)
    token_ids = np.zeros((count, length), np.int32)
    mask = np.zeros((count, length), np.int32)
    tokens = examples[0][2] is not None
    labels = np.zeros((count, length) if tokens else (count,), np.int32)
    weights = np.zeros((count, length) if tokens else (count,), np.float32)
    for i, (ids, label, weight, _) in enumerate(examples):
        token_ids[i, :len(ids)] = ids
        mask[i, :len(ids)] = 1
        if tokens:
            labels[i, :len(ids)] = label
            weights[i, :len(ids)] = weight
        else:
            labels[i] = label
            weights[i] = 1.0
    tasks = np.array([e[3] for e in examples], np.int32)
    return {"token_ids": token_ids, "padding_mask": mask, "labels": labels,
            "weights": weights, "tasks": tasks}


class ContinualLearner:
    """Trains a task sequence with one method and fills the matrix `R`.

    Args:
        tasks: list of `ContinualTask`, in training order, all of one kind.
        config: `ContinualConfig` or None (its defaults).
        backbone: str. What `tfllm.backbones.load_backbone` takes
            (`"minilm"`, `"multilingual-e5-small"`, a checkpoint folder).
        word_splitter: str. `"whitespace"` or `"cjk_chars"` (see
            `TextClassificationPreprocessor`).
        backbone_model: optional built KerasHub backbone (tests); then
            `tokenizer` is required and `backbone` is ignored.
        tokenizer: the backbone's KerasHub tokenizer, with `backbone_model`.
        log: callable taking one str, or None (print). Progress lines.
        writer: `tf.summary` writer or None: TensorBoard scalars.
        state_dir: str or path or None. Where a checkpoint is written after
            each task (`tfllm.continual.state`); a folder holding one from
            the same tasks and settings resumes after its last task. None:
            no checkpoints.

    Raises:
        ValueError: no tasks, duplicate names, or tasks of mixed kinds.

    Examples:
    ```python
    tasks = [load_task("sst2", max_train_examples=2000), ...]
    learner = ContinualLearner(tasks, ContinualConfig(method="replay"))
    result = learner.run()
    result.summary()["backward_transfer"]
    ```
    """

    def __init__(self, tasks, config=None, backbone="minilm",
                 word_splitter="whitespace", backbone_model=None,
                 tokenizer=None, log=None, writer=None, state_dir=None):
        if not tasks:
            raise UserInputError("a continual run needs at least one task")
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise UserInputError(f"task names must be unique, got {names}")
        kinds = {t.kind for t in tasks}
        if len(kinds) != 1:
            raise UserInputError(f"all tasks of a sequence must be of one kind, "
                             f"got {sorted(kinds)}")
        self.tasks = list(tasks)
        self.kind = kinds.pop()
        self.config = config or ContinualConfig()
        self.backbone_name = backbone
        self.word_splitter = word_splitter
        self._backbone_model = backbone_model
        self._tokenizer = tokenizer
        self.log = log or (lambda line: print(line, flush=True))
        self.writer = writer
        self.state_dir = state_dir
        self._global_step = 0

    # --- building ---------------------------------------------------------

    def _build(self):
        import keras

        from tfllm.continual.model import MultiHeadModel

        keras.utils.set_random_seed(self.config.seed)
        if self._backbone_model is None:
            from tfllm.backbones import load_backbone

            backbone, tokenizer = load_backbone(self.backbone_name)
        else:
            backbone, tokenizer = self._backbone_model, self._tokenizer
        limit = getattr(backbone, "max_sequence_length", None)
        self.max_length = min(self.config.max_length, limit or 10 ** 9)
        self._make_preprocessors(tokenizer)
        self.model = MultiHeadModel(
            backbone, self.kind, {t.name: len(t.labels) for t in self.tasks},
            self.config.dropout)
        self.lora_variables = None
        if self.config.method == "lora":
            from tfllm.peft.lora import LoraConfig
            from tfllm.peft.lora import apply_lora

            apply_lora(backbone, LoraConfig(r=self.config.lora_rank,
                                            lora_alpha=self.config.lora_alpha),
                       verbose=False)
            self.lora_variables = list(backbone.peft_state.peft_variables())
            self._lora_init = [v.numpy() for v in self.lora_variables]
            self.shared_variables = list(self.lora_variables)
        else:
            if self.config.freeze_embeddings:
                embedding = getattr(backbone, "token_embedding", None)
                if embedding is None:
                    raise UserInputError(f"{type(backbone).__name__} has no "
                                     f"token_embedding to freeze")
                embedding.trainable = False
            self.shared_variables = list(backbone.trainable_variables)

    def _make_preprocessors(self, tokenizer):
        from tfllm.preprocessing.text_classification_preprocessor import (
            TextClassificationPreprocessor,
        )
        from tfllm.preprocessing.token_classification_preprocessor import (
            TokenClassificationPreprocessor,
        )

        self.text_preprocessor = TextClassificationPreprocessor(
            tokenizer, self.max_length, self.word_splitter)
        self.token_preprocessor = TokenClassificationPreprocessor(
            tokenizer, self.max_length, casing_features=False,
            word_splitter=self.word_splitter)

    def _encode(self):
        from tfllm.continual.tasks import encode_task_split

        self.train_data, self.eval_data = [], []
        for i, task in enumerate(self.tasks):
            self.train_data.append(encode_task_split(
                task, i, self.text_preprocessor, self.token_preprocessor,
                "train"))
            self.eval_data.append(encode_task_split(
                task, i, self.text_preprocessor, self.token_preprocessor,
                "eval"))

    # --- training ---------------------------------------------------------

    def _step_function(self, variables, optimizer, head_ids, penalty):
        import tensorflow as tf

        model = self.model
        tokens = self.kind != CLASSIFICATION

        @tf.function(reduce_retracing=True)
        def step(token_ids, padding_mask, labels, weights, tasks):
            with tf.GradientTape() as tape:
                features = model.features(token_ids, padding_mask, True)
                total = tf.constant(0.0)
                for k in head_ids:
                    logits = model.head(k, features)
                    select = tf.cast(tf.equal(tasks, k), tf.float32)
                    if tokens:
                        select = select[:, None] * weights
                    safe = tf.where(select > 0, labels, 0)
                    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        safe, logits)
                    total += tf.reduce_sum(loss * select)
                loss = total / tf.maximum(tf.reduce_sum(weights), 1.0)
                objective = loss + (penalty() if penalty is not None
                                    else 0.0)
            gradients = tape.gradient(objective, variables)
            optimizer.apply_gradients(zip(gradients, variables))
            return loss

        return step

    def _train_phase(self, examples, head_ids, memory=None, label=""):
        """Trains on `examples` (list of example tuples) for the configured
        epochs; returns the seconds it took."""
        from tfllm.training.optimizers import make_adamw
        from tfllm.training.progress import format_duration

        config = self.config
        rng = np.random.default_rng(config.seed + len(label))
        steps_per_epoch = int(math.ceil(len(examples) / config.batch_size))
        total = max(2, steps_per_epoch * config.epochs)
        optimizer = make_adamw(config.learning_rate, total,
                               config.warmup_ratio, config.weight_decay)
        variables = self.shared_variables + self.model.head_variables(
            head_ids)
        optimizer.build(variables)
        penalty = self.penalty if config.method == "ewc" else None
        step = self._step_function(variables, optimizer, head_ids, penalty)
        replay_count = config.replay_batch_size or config.batch_size
        every = max(1, steps_per_epoch // 10)  # a progress line per ~10%
        start = time.perf_counter()
        for epoch in range(config.epochs):
            order = rng.permutation(len(examples))
            losses, seen = [], 0
            epoch_start = time.perf_counter()
            for s in range(steps_per_epoch):
                batch = [examples[i] for i in
                         order[s * config.batch_size:
                               (s + 1) * config.batch_size]]
                if memory is not None and len(memory):
                    batch = batch + memory.sample(replay_count)
                arrays = pad_batch(batch, self.max_length)
                loss = float(step(arrays["token_ids"],
                                  arrays["padding_mask"], arrays["labels"],
                                  arrays["weights"], arrays["tasks"]))
                losses.append(loss)
                seen += len(batch)
                self._global_step += 1
                if (s + 1) % every == 0 and s + 1 < steps_per_epoch:
                    elapsed = time.perf_counter() - epoch_start
                    left = elapsed / (s + 1) * (steps_per_epoch - s - 1)
                    self.log(f"{label} epoch {epoch + 1}/{config.epochs} "
                             f"step {s + 1}/{steps_per_epoch} "
                             f"({100 * (s + 1) // steps_per_epoch}%) loss "
                             f"{np.mean(losses):.4f} elapsed "
                             f"{format_duration(elapsed)} ETA "
                             f"{format_duration(left)}")
                if self.writer is not None and self._global_step % 20 == 0:
                    import tensorflow as tf

                    with self.writer.as_default():
                        tf.summary.scalar("train/loss", loss,
                                          step=self._global_step)
            elapsed = time.perf_counter() - start
            self.log(f"{label} epoch {epoch + 1}/{config.epochs}: loss "
                     f"{np.mean(losses):.4f}, {seen} examples, "
                     f"{elapsed:.0f} s so far")
        return time.perf_counter() - start

    # --- scoring ----------------------------------------------------------

    def _batches(self, encoded, batch_size=64):
        order = np.argsort([len(ids) for ids in encoded.token_ids],
                           kind="stable")
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            arrays = pad_batch([encoded.example(int(i)) for i in index],
                               self.max_length)
            yield index, arrays

    def _feature_function(self):
        import tensorflow as tf

        if getattr(self, "_features", None) is None:
            model = self.model

            @tf.function(reduce_retracing=True)
            def features(token_ids, padding_mask):
                return tf.cast(model.features(token_ids, padding_mask,
                                              False), tf.float32)

            self._features = features
        return self._features

    def _logits(self, encoded, head):
        """float32 logits per example (cls: `[N, C]`; NER: list of
        `[L_i, C]`)."""
        features_fn = self._feature_function()
        out = [None] * len(encoded)
        for index, arrays in self._batches(encoded):
            features = features_fn(arrays["token_ids"],
                                   arrays["padding_mask"])
            logits = self.model.head(head, features).numpy()
            for row, i in enumerate(index):
                out[int(i)] = logits[row] if self.kind == CLASSIFICATION \
                    else logits[row, :len(encoded.token_ids[int(i)])]
        return np.stack(out) if self.kind == CLASSIFICATION else out

    def _predict_labels(self, encoded, task_index, logits=None):
        """Predicted label names (cls) or tag lists (NER) of `encoded`."""
        task = self.tasks[task_index]
        if logits is None:
            logits = self._logits(encoded, task_index)
        if self.kind == CLASSIFICATION:
            return [task.labels[int(k)] for k in np.argmax(logits, -1)]
        tags = []
        for windows, positions in zip(encoded.word_window,
                                      encoded.word_position):
            tags.append([task.labels[int(np.argmax(logits[w][p]))]
                         for w, p in zip(windows, positions)])
        return tags

    def _score_predictions(self, task_index, predicted):
        task = self.tasks[task_index]
        if self.kind == CLASSIFICATION:
            return float(np.mean([p == g for p, g in
                                  zip(predicted, task.eval_y)]))
        from seqeval.metrics import f1_score
        from seqeval.scheme import IOB2

        return float(f1_score(list(task.eval_y), predicted, mode="strict",
                              scheme=IOB2, zero_division=0))

    def score(self, task_index):
        """The model's score on task `task_index`'s evaluation split, with
        that task's head (and adapter): accuracy or entity-level F1."""
        if self.lora_variables is not None:
            self._use_adapter(task_index)
        encoded = self.eval_data[task_index]
        return self._score_predictions(
            task_index, self._predict_labels(encoded, task_index))

    # --- per-task adapters -------------------------------------------------

    def _reset_adapter(self):
        for variable, value in zip(self.lora_variables, self._lora_init):
            variable.assign(value)

    def _use_adapter(self, task_index):
        values = self.adapters.get(task_index)
        if values is None:
            self._reset_adapter()
        else:
            for variable, value in zip(self.lora_variables, values):
                variable.assign(value)

    def _use_base(self):
        """Zeroes every LoRA `B` factor: the frozen encoder alone."""
        for variable in self.lora_variables:
            if variable.path.endswith("lora_B"):
                variable.assign(np.zeros(variable.shape, np.float32))

    def _base_features(self, encoded, limit=None):
        """Mean-pooled frozen-encoder features `[N, H]` (first `limit`)."""
        import tensorflow as tf

        self._use_base()
        features_fn = self._feature_function()
        count = len(encoded) if limit is None else min(limit, len(encoded))
        subset = dataclasses.replace(
            encoded, token_ids=encoded.token_ids[:count],
            labels=encoded.labels[:count],
            weights=None if encoded.weights is None
            else encoded.weights[:count])
        out = np.zeros((count, self.model.backbone.hidden_dim), np.float32)
        for index, arrays in self._batches(subset):
            x = features_fn(arrays["token_ids"], arrays["padding_mask"])
            if len(x.shape) == 3:
                mask = tf.cast(arrays["padding_mask"][..., None], x.dtype)
                x = tf.reduce_sum(x * mask, 1) / tf.reduce_sum(mask, 1)
            out[index] = x.numpy()
        return out

    def score_routed(self, task_index, seen):
        """Score on task `task_index` when the router picks the adapter and
        head among tasks `0..seen`; returns `(score, routing accuracy)`.
        A prediction counts when its label name equals the gold one."""
        encoded = self.eval_data[task_index]
        features = self._base_features(encoded)
        routes = self.router.predict(features, allowed=range(seen + 1))
        if self.kind != CLASSIFICATION:
            # One route per sentence: the window of its first word.
            window_route = routes
            routes = np.array([window_route[w[0]] if len(w) else task_index
                               for w in encoded.word_window])
        predicted = [None] * len(routes)
        for route in np.unique(routes):
            self._use_adapter(int(route))
            logits = self._logits(encoded, int(route))
            labels = self._predict_labels(encoded, int(route), logits)
            for i in np.flatnonzero(routes == route):
                predicted[i] = labels[i]
        return (self._score_predictions(task_index, predicted),
                float(np.mean(routes == task_index)))

    # --- the run ----------------------------------------------------------

    def _examples(self, index):
        data = self.train_data[index]
        return [data.example(i) for i in range(len(data))]

    def _fisher(self, index):
        import tensorflow as tf

        from tfllm.continual.ewc import fisher_diagonal

        data = self.train_data[index]
        rng = np.random.default_rng(self.config.seed + 7 * index)
        picks = rng.choice(len(data), size=min(self.config.fisher_examples,
                                               len(data)), replace=False)
        model = self.model
        tokens = self.kind != CLASSIFICATION

        @tf.function(reduce_retracing=True)
        def nll(token_ids, padding_mask, labels, weights):
            features = model.features(token_ids, padding_mask, False)
            logits = model.head(index, features)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, logits)
            return tf.reduce_sum(loss * weights) if tokens \
                else tf.reduce_sum(loss)

        def example_loss(i):
            arrays = pad_batch([data.example(int(i))], self.max_length)
            return lambda: nll(arrays["token_ids"], arrays["padding_mask"],
                               arrays["labels"], arrays["weights"])

        return fisher_diagonal(self.shared_variables,
                               (example_loss(i) for i in picks))

    def _summaries(self, row, values, prefix="continual"):
        if self.writer is None:
            return
        import tensorflow as tf

        with self.writer.as_default():
            for j, value in enumerate(values):
                if value is not None and not math.isnan(value):
                    tf.summary.scalar(f"{prefix}/{self.tasks[j].name}",
                                      value, step=row)
            seen = [v for v in values[:row + 1] if v is not None]
            if seen:
                tf.summary.scalar(f"{prefix}/average_seen", np.mean(seen),
                                  step=row)
        self.writer.flush()

    def run(self):
        """Trains every task in order (or all at once for `multitask`).

        Returns:
            `ContinualResult`.
        """
        self._build()
        self._encode()
        config = self.config
        count = len(self.tasks)
        metric = "accuracy" if self.kind == CLASSIFICATION else "entity_f1"
        if config.method == "multitask":
            examples = [e for i in range(count) for e in self._examples(i)]
            seconds = self._train_phase(examples, list(range(count)),
                                        label="multitask")
            row = [self.score(j) for j in range(count)]
            self.log("multitask scores: " + ", ".join(
                f"{t.name} {v:.4f}" for t, v in zip(self.tasks, row)))
            self._summaries(0, row)
            return ContinualResult([t.name for t in self.tasks], "multitask",
                                   np.array([row]), None, None, None,
                                   [seconds], metric)
        self.adapters = {}
        self.penalty = None
        memory = None
        if config.method == "ewc":
            from tfllm.continual.ewc import EWCPenalty

            self.penalty = EWCPenalty(self.shared_variables,
                                      config.ewc_lambda)
        if config.method == "replay":
            from tfllm.continual.replay import ReservoirBuffer

            memory = ReservoirBuffer(config.replay_size, config.seed)
        self.memory = memory
        routed = None
        routing = None
        if config.method == "lora":
            from tfllm.continual.routing import TaskRouter

            self.router = TaskRouter()
            routed = metrics.empty_matrix(count)
            routing = []
        from tfllm.continual.state import load_state
        from tfllm.continual.state import save_state

        done, progress = load_state(self, self.state_dir)
        if done is None:
            baseline = np.array([self.score(j) for j in range(count)])
            self.log("before training: " + ", ".join(
                f"{t.name} {v:.4f}" for t, v in zip(self.tasks, baseline)))
            R = metrics.empty_matrix(count)
            seconds = []
            start = 0
        else:
            R, baseline = progress["R"], progress["baseline"]
            routed, routing = progress["routed"], progress["routing"]
            seconds = progress["seconds"]
            memory = self.memory  # the restored replay memory
            start = done + 1
            self.log(f"resumed after task {done + 1}/{count} "
                     f"({self.tasks[done].name}) from {self.state_dir}"
                     + ("; every task is trained already, nothing left to "
                        "train" if start == count else ""))
        for i in range(start, count):
            task = self.tasks[i]
            label = f"[{config.method}] task {i + 1}/{count} {task.name}"
            heads = list(range(i + 1)) if memory is not None else [i]
            if self.lora_variables is not None:
                self._reset_adapter()
            seconds.append(self._train_phase(self._examples(i), heads,
                                             memory, label))
            if memory is not None:
                memory.extend(self._examples(i))
            if self.penalty is not None and i < count - 1:
                started = time.perf_counter()
                self.penalty.add_task(
                    self._fisher(i), [v.numpy() for v in
                                      self.shared_variables])
                self.log(f"{label}: Fisher information from "
                         f"{min(config.fisher_examples, len(self.train_data[i]))}"
                         f" examples in {time.perf_counter() - started:.0f} s")
            if self.lora_variables is not None:
                self.adapters[i] = [v.numpy() for v in self.lora_variables]
                self.router.add_task(i, self._base_features(
                    self.train_data[i], config.router_examples))
            last = min(i + 1, count - 1) if config.score_next else i
            for j in range(last + 1):
                R[i, j] = self.score(j)
            if routed is not None:
                correct = []
                for j in range(i + 1):
                    routed[i, j], accuracy = self.score_routed(j, i)
                    correct.append(accuracy)
                routing.append(float(np.mean(correct)))
            self.log(f"{label}: " + ", ".join(
                f"{self.tasks[j].name} {R[i, j]:.4f}"
                for j in range(i + 1)))
            self._summaries(i, list(R[i]))
            if self.state_dir is not None:
                save_state(self, self.state_dir, i, {
                    "R": R, "baseline": baseline, "routed": routed,
                    "routing": routing, "seconds": seconds})
        return ContinualResult([t.name for t in self.tasks], config.method,
                               R, baseline, routed, routing, seconds, metric)
