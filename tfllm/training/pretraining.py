"""Pre-training runs: corpus to packed blocks, the shared loop, a preset.

Both pre-training tasks (masked LM, `tfllm.models.masked_lm`, and causal LM,
`tfllm.models.causal_lm`) go through `tfllm.training.train`, the loop every
task uses, with a held-out score after every epoch; the result is saved as
a KerasHub preset folder that `tfllm.backbones.load_backbone` (hence
`train_ner.py --backbone <folder>` and `train_classifier.py`) accepts.
"""

import dataclasses
import json
import pathlib
import time

import keras

from tfllm.data.pipeline import make_dataset
from tfllm.evaluation.language_model import evaluate_language_model
from tfllm.training.trainer import train
from tfllm.utils.atomic import atomic_path


@dataclasses.dataclass
class CorpusConfig:
    """Where the text comes from and how it is cut (flags of both scripts)."""

    corpus: str = dataclasses.field(default="", metadata={
        "help": "comma-separated corpus files, each optionally prefixed by "
                "its format (text, lines, jsonl, conll, conll-chars, weibo), e.g. "
                "'songci.txt,jsonl:cluener2020/train.json'"})
    validation_corpus: str = dataclasses.field(default="", metadata={
        "help": "held-out corpus files (same syntax); default: a "
                "--validation-fraction share of the corpus documents"})
    validation_fraction: float = 0.05
    max_train_examples: int = dataclasses.field(default=0, metadata={
        "help": "use only the first N shuffled training documents (0: all)",
        "aliases": ["--max-documents"]})
    sequence_length: int = 128
    vocabulary_size: int = dataclasses.field(default=8000, metadata={
        "help": "size of the tokenizer trained on the corpus (a new model)"})
    lowercase: bool = True
    output_dir: str = "runs"
    run_name: str = dataclasses.field(default="", metadata={
        "help": "run folder under output_dir; an existing run is resumed"})
    export_dir: str = dataclasses.field(default="", metadata={
        "help": "preset folder for the pre-trained model (default "
                "<run folder>/pretrained)",
        "aliases": ["--save-dir"]})


def save_pretrained(model, tokenizer, folder):
    """Saves a pre-trained task as a KerasHub preset folder, atomically.

    The folder holds the backbone (`config.json`, `model.weights.h5`), the
    task with its LM head (`task.json`, `task.weights.h5`) and the tokenizer
    (`tokenizer.json`, `assets/tokenizer/`): `load_backbone(folder)`,
    `keras_hub.models.Backbone.from_preset(folder)` and the task class's
    `from_preset(folder)` all read it, without conversion.

    Args:
        model: `MaskedLM` or `CausalLM` (a KerasHub task).
        tokenizer: its `keras_hub.tokenizers.Tokenizer`.
        folder: str or path. Replaced if it exists.

    Returns:
        `pathlib.Path` of the folder.
    """
    folder = pathlib.Path(folder)
    with atomic_path(folder) as temp:
        model.save_to_preset(str(temp))
        tokenizer.save_to_preset(str(temp))
    return folder


def pretrain(model, train_encoded, validation_encoded, training, run_dir,
             loss, batch_transform=None, validation_transform=None,
             monitor="loss", monitor_mode="min", max_length=128,
             evaluation_batch_size=None):
    """Pre-trains `model` with the shared loop; scores held-out text.

    Args:
        model: `MaskedLM` or `CausalLM`.
        train_encoded, validation_encoded: `EncodedWindows` of packed
            blocks (`tfllm.data.corpus.encode_masked_lm`/`encode_causal_lm`).
        training: `TrainingConfig`.
        run_dir: str or path.
        loss: Keras loss with `reduction="sum"`.
        batch_transform: callable for the training stream (dynamic
            masking) or None.
        validation_transform: the same with a fixed seed for held-out data,
            so every evaluation scores the same positions.
        monitor: str. `loss`, `perplexity` or `accuracy`, picks the best
            epoch; `monitor_mode` `"min"` or `"max"`.
        max_length: int. Longest block.
        evaluation_batch_size: int or None. Default `training.batch_size`.

    Returns:
        `(model, history, initial)`: the best epoch's model, the per-epoch
        records and the held-out scores before training.
    """
    validation = make_dataset(
        validation_encoded, evaluation_batch_size or training.batch_size,
        max_length, batch_transform=validation_transform)

    def evaluate(m):
        scores = evaluate_language_model(m, validation)
        return ({k: scores[k] for k in ("loss", "perplexity", "accuracy")},
                scores)

    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    initial_file = run_dir / "initial_validation.json"
    if initial_file.is_file():  # resumed run
        initial = json.loads(initial_file.read_text())
    else:
        start = time.perf_counter()
        initial = evaluate_language_model(model, validation)
        initial["seconds"] = time.perf_counter() - start
        with atomic_path(initial_file) as temp:
            temp.write_text(json.dumps(initial, indent=2) + "\n")
    print("held-out before training: " + _format(initial))
    model, history = train(
        model, train_encoded, training, run_dir, evaluate, monitor, loss,
        max_length=max_length, batch_transform=batch_transform,
        monitor_mode=monitor_mode)
    return model, history, initial


def pretraining_summary(history, initial, train_encoded, start, save_dir,
                        **extra):
    """The `summary.json` fields of a pre-training run.

    Args:
        history: per-epoch records of `pretrain`.
        initial: held-out scores before training.
        train_encoded: `EncodedWindows` of the training blocks, or their
            number of tokens (int).
        start: float. `time.perf_counter()` when the command started.
        save_dir: path of the saved preset folder.
        **extra: more fields (parameter count, samples...), placed after
            the scores.

    Returns:
        dict: `held_out_before`, `held_out_best` (the epoch with the lowest
        held-out loss), `best_epoch`, `extra`, `training_tokens_per_epoch`,
        `wall_seconds` and `pretrained`.
    """
    best = min(history, key=lambda r: r["val_loss"]) if history else {}
    return {
        "held_out_before": initial,
        "held_out_best": {k[4:]: v for k, v in best.items()
                          if k.startswith("val_")},
        "best_epoch": best.get("epoch"),
        **extra,
        "training_tokens_per_epoch": getattr(
            train_encoded, "num_tokens", train_encoded),
        "wall_seconds": time.perf_counter() - start,
        "pretrained": str(save_dir),
    }


def _format(scores):
    return (f"loss {scores['loss']:.4f}, perplexity "
            f"{scores['perplexity']:.2f}, token accuracy "
            f"{scores['accuracy']:.4f} ({scores['tokens']} tokens)")


def sum_loss():
    """The token cross-entropy that `train` needs (`reduction="sum"`)."""
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="sum")


def read_documents(data, what="data"):
    """Documents of a language-model `fit`/`evaluate` call.

    Args:
        data: a list (or tuple) of str, one document each; or a str/path of
            corpus files in `tfllm.data.corpus.read_corpora` syntax
            (comma-separated, each optionally prefixed by its format, e.g.
            `"songci.txt,jsonl:cluener2020/train.json"`).
        what: str. Names the argument in errors.

    Returns:
        list of str.

    Raises:
        TypeError: `data` is neither texts nor a corpus path.
        FileNotFoundError: a corpus file does not exist.
        ValueError: no document.
    """
    from tfllm.data.corpus import read_corpora

    if isinstance(data, (str, pathlib.PurePath)):
        documents = read_corpora(str(data))
    elif isinstance(data, (list, tuple)) and all(
            isinstance(d, str) for d in data):
        documents = list(data)
    else:
        raise TypeError(
            f"{what}: expected a list of texts or a corpus file path, got "
            f"{type(data).__name__}")
    if not documents:
        raise ValueError(f"{what}: no document")
    return documents


def is_text_data(data):
    """Whether `data` is texts or a file path (the text API) rather than
    what Keras' own `fit`/`evaluate` take (tf.data, arrays, dicts)."""
    if isinstance(data, (str, pathlib.PurePath)):
        return True
    return isinstance(data, (list, tuple)) and bool(data) and not any(
        hasattr(d, "shape") for d in data)


def encode_masked_lm_documents(tokenizer, documents, sequence_length):
    """`EncodedWindows` of documents packed into `[CLS] ... [SEP]` blocks
    of at most `sequence_length` tokens (masking happens per batch)."""
    from tfllm.data.corpus import encode_masked_lm
    from tfllm.data.corpus import pack_masked_lm_blocks
    from tfllm.data.corpus import tokenize_documents

    ids = tokenize_documents(tokenizer, documents)
    blocks = pack_masked_lm_blocks(
        ids, sequence_length, tokenizer.cls_token_id, tokenizer.sep_token_id)
    return encode_masked_lm(blocks)


def encode_causal_lm_documents(tokenizer, documents, sequence_length):
    """`EncodedWindows` of next-token blocks of `sequence_length` tokens,
    documents separated by the tokenizer's end token."""
    from tfllm.data.corpus import encode_causal_lm
    from tfllm.data.corpus import pack_causal_lm_blocks
    from tfllm.data.corpus import tokenize_documents

    return encode_causal_lm(*pack_causal_lm_blocks(
        tokenize_documents(tokenizer, documents), sequence_length,
        tokenizer.end_token_id))


def training_config(training=None, **overrides):
    """A `TrainingConfig` from a base one and keyword overrides.

    Args:
        training: `TrainingConfig` or None (the defaults).
        **overrides: `TrainingConfig` fields (`epochs`, `batch_size`,
            `learning_rate`, ...); None values are ignored.

    Raises:
        TypeError: a keyword is not a `TrainingConfig` field (named).
    """
    from tfllm.config import replace_settings
    from tfllm.training.trainer import TrainingConfig

    return replace_settings(
        training or TrainingConfig(),
        {k: v for k, v in overrides.items() if v is not None},
        "training settings")


class run_directory:
    """Context manager: `run_dir` as a path, or a temporary folder
    (removed on exit) when it is None."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self._temp = None

    def __enter__(self):
        if self.run_dir is not None:
            return pathlib.Path(self.run_dir)
        import tempfile

        self._temp = tempfile.TemporaryDirectory(prefix="tfllm-run-")
        return pathlib.Path(self._temp.name)

    def __exit__(self, *exc):
        if self._temp is not None:
            self._temp.cleanup()
        return False


def adopt_weights(model, trained):
    """Copies `trained`'s weights into `model` when `train` returned a
    different object (a resumed run reloads the checkpointed model)."""
    if trained is not model:
        model.set_weights(trained.get_weights())
    return model
