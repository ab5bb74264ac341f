"""Export a run folder for deployment and verify every artifact
(`tfllm export`): the settings (`ExportConfig`) and the run (`export_run`).

From a NER or text-classification run folder (`model.keras`, `config.json`)
it writes a raw-text TF Serving SavedModel version (with warm-up requests
and `models.config`), a LiteRT bundle (float32, float16, dynamic-range int8,
full-integer int8 `.tflite` files with the vocabulary beside them),
optionally a Keras `quantize("int8")` SavedModel, and then runs each one on
the run's validation split: `export_verification.md` and `.json` in
the run folder (or `--report-dir`).
"""

import dataclasses
import datetime
import json
import pathlib
from typing import Optional

from tfllm.export.tflite import DEFAULT_FLAVOURS
from tfllm.export.tflite import FLAVOURS
from tfllm.export.tflite import MIN_AGREEMENT
from tfllm.runs.run_data import default_name
from tfllm.runs.run_data import load_run
from tfllm.utils.machine import machine_description


@dataclasses.dataclass
class ExportConfig:
    """Flags of `scripts/export.py`."""

    run_dir: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "run folder with model.keras and config.json (required)"})
    name: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "TF Serving model name; default: the dataset, or 'ner'"})
    saved_model_dir: Optional[str] = dataclasses.field(
        default=None, metadata={"help": "default saved_models/<name>"})
    litert_dir: Optional[str] = dataclasses.field(
        default=None, metadata={"help": "default saved_models/<name>_litert"})
    flavours: str = dataclasses.field(
        default=",".join(DEFAULT_FLAVOURS), metadata={
        "help": "TFLite flavours, comma-separated, of " + ", ".join(FLAVOURS)
        + " ('' for none)"})
    sequence_length: Optional[int] = dataclasses.field(
        default=None, metadata={
            "help": "fixed TFLite input length (batch 1); default dynamic"})
    calibration_samples: int = dataclasses.field(default=100, metadata={
        "help": "training sequences calibrating int8 and int16x8"})
    probe_samples: int = dataclasses.field(default=64, metadata={
        "help": "validation sequences every .tflite file is checked on"})
    min_agreement: float = dataclasses.field(
        default=MIN_AGREEMENT, metadata={
            "help": "lowest argmax agreement with the Keras model accepted"})
    keras_int8: bool = dataclasses.field(default=False, metadata={
        "help": "also export Keras' quantize('int8') model as SavedModel"})
    verify: bool = dataclasses.field(default=True, metadata={
        "help": "run every artifact on the validation split"})
    max_eval: Optional[int] = dataclasses.field(default=None, metadata={
        "help": "verify on the first N validation items only"})
    latency_samples: int = dataclasses.field(default=200, metadata={
        "help": "items timed one at a time (batch 1)"})
    num_threads: Optional[int] = dataclasses.field(default=None, metadata={
        "help": "LiteRT interpreter threads (default: LiteRT's choice)"})
    report_dir: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "where export_verification.md/.json go; default run_dir"})


def export_run(config):
    """Exports a run folder in every format and verifies each artifact.

    Writes the TF Serving SavedModel version, the LiteRT bundle (and the
    Keras int8 SavedModel with `config.keras_int8`), then runs every
    artifact on the run's validation split and writes
    `export_verification.md` / `.json` to `config.report_dir` (default the
    run folder).

    Args:
        config: `ExportConfig` with `run_dir` set.

    Returns:
        dict of `tfllm.export.exporter.export_model` (`saved_model`,
        `litert`, `keras_int8`, `reports`, `refused`).

    Raises:
        ValueError: no `run_dir`, or a pair / multi-label classifier.
        FileNotFoundError: `run_dir` is not a run folder.
    """
    if config.run_dir is None:
        raise ValueError("export_run needs config.run_dir (a run folder)")
    from tfllm.export.exporter import export_model
    from tfllm.export.verify import format_table
    from tfllm.export.verify import verify_exports

    run_dir = pathlib.Path(config.run_dir)
    name = config.name or default_name(run_dir)
    saved_model_dir = config.saved_model_dir or f"saved_models/{name}"
    litert_dir = config.litert_dir or f"saved_models/{name}_litert"
    flavours = [f for f in config.flavours.split(",") if f]
    model, train_items, items, gold = load_run(run_dir)
    result = export_model(
        model, name, saved_model_dir, litert_dir, train_items, items,
        flavours, config.sequence_length, config.calibration_samples,
        config.probe_samples, config.min_agreement, config.keras_int8,
        skip_collapsed=True)
    flavours = list(result["reports"])  # refused ones are not verified
    print(f"SavedModel: {result['saved_model']}; LiteRT bundle: "
          f"{result['litert']}; Keras int8: {result['keras_int8']}")
    if not config.verify:
        return result
    if config.max_eval:
        items, gold = items[:config.max_eval], gold[:config.max_eval]
    rows = verify_exports(
        model, items, gold, result["saved_model"], result["litert"],
        flavours, result["keras_int8"], config.latency_samples,
        config.num_threads)
    score_name = "entity F1" if name == "ner" or hasattr(
        model, "predict_word_logits") else "accuracy"
    table = format_table(rows, score_name)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    header = (f"{len(items)} validation items; {machine_description()}; "
              f"{when}\n\n")
    report_dir = pathlib.Path(config.report_dir or run_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "export_verification.md").write_text(header + table)
    (report_dir / "export_verification.json").write_text(json.dumps(
        {"rows": rows, "exports": result}, indent=2) + "\n")
    for flavour, report in result["refused"].items():
        tagged = (f", tagged (non-O) tokens "
                  f"{report['tagged_agreement']:.3f}"
                  if report.get("tagged_compared") else "")
        table += (f"\nRefused: TFLite {flavour}, probe agreement "
                  f"{report['agreeing']}/{report['compared']}{tagged}, max "
                  f"|delta logit| {report['max_abs_logit_diff']:.3g}\n")
    (report_dir / "export_verification.md").write_text(header + table)
    print(table)
    return result


