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

    task: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "'causal-lm': export a decoder (--model) for on-device "
                "generation; default: the run folder's task (NER, "
                "classification)"})
    format: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "causal-lm: 'litert' (one .tflite per recipe with prefill "
                "and decode signatures and a KV cache, tokenizer beside "
                "it); run folders: every format"})
    model: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "causal-lm: 'smollm2', a .gguf file or a fine-tuned Llama "
                "causal LM (.keras or run folder)"})
    recipes: str = dataclasses.field(default="fp32,dynamic_int8", metadata={
        "help": "causal-lm: LiteRT recipes, comma-separated, of fp32, fp16, "
                "dynamic_int8, weight_only_int8, dynamic_int4_block32, "
                "dynamic_int4_block64, dynamic_int4_block128, "
                "dynamic_int4_mlp_int8"})
    max_length: int = dataclasses.field(default=1024, metadata={
        "help": "causal-lm: KV cache slots (prompt + generated tokens); a "
                "decode step attends to all of them, so smaller is faster"})
    prefill_lengths: str = dataclasses.field(default="32,128", metadata={
        "help": "causal-lm: prefill bucket lengths (tokens), "
                "comma-separated; longer prompts are prefilled in chunks"})
    run_dir: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "run folder with model.keras and config.json (required "
                "unless --task causal-lm)"})
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
    if config.task == "causal-lm":
        return export_causal_lm_run(config)
    if config.task not in (None, "ner", "classification"):
        raise ValueError(f"--task: expected 'causal-lm' (or none, for a run "
                         f"folder), got {config.task!r}")
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




VERIFY_PROMPT = "The capital of France is"


def export_causal_lm_run(config):
    """`tfllm export --task causal-lm --format litert`: a LiteRT generation
    bundle from `config.model`, then a greedy check of every recipe.

    Writes `config.litert_dir` (default `saved_models/<name>_litert`):
    `model_<recipe>.tflite`, the tokenizer and `generation.json`
    (`tfllm.export.litert_causal_lm.export_causal_lm`). With
    `config.verify`, each recipe greedily continues a fixed prompt for 16
    tokens beside TensorFlow's float32 model, and the agreeing tokens are
    written to `export_verification.json` in the bundle.

    Returns:
        dict: `litert` (the folder), `settings` (`generation.json`) and
        `verification` (per recipe: `agreeing_tokens`, `text`).

    Raises:
        ValueError: no `--model`, a format other than `litert`, or a model
            the LiteRT export does not cover.
    """
    from tfllm.export.litert_causal_lm import export_causal_lm
    from tfllm.generation.text import load_generator

    if config.format not in (None, "litert"):
        raise ValueError(f"--format: causal-lm exports to 'litert', got "
                         f"{config.format!r}")
    model = config.model or "smollm2"
    name = config.name or pathlib.Path(model).stem.replace(".", "_")
    folder = pathlib.Path(config.litert_dir or f"saved_models/{name}_litert")
    causal_lm, preprocessor = load_generator(model)
    recipes = [r for r in config.recipes.split(",") if r]
    lengths = [int(n) for n in config.prefill_lengths.split(",") if n]
    print(f"Exporting {model} to {folder} ({', '.join(recipes)}; "
          f"{config.max_length} cache slots, prefill {lengths})", flush=True)
    settings = export_causal_lm(
        causal_lm, folder, preprocessor.tokenizer, recipes,
        config.max_length, lengths,
        use_chat_template=preprocessor.use_chat_template,
        system_prompt=preprocessor.system_prompt)
    for recipe, report in settings["conversion"].items():
        print(f"  {settings['model_files'][recipe]}: "
              f"{report['bytes'] / 1e6:.1f} MB, {report['seconds']:.0f} s")
    result = {"litert": str(folder), "settings": settings}
    if config.verify:
        result["verification"] = verify_causal_lm_bundle(
            causal_lm, preprocessor, folder, recipes, config.num_threads)
    return result


def verify_causal_lm_bundle(causal_lm, preprocessor, folder, recipes,
                            num_threads=None, new_tokens=16):
    """Greedy tokens of every recipe beside TensorFlow's on one prompt.

    Returns:
        dict: recipe -> `agreeing_tokens` (leading tokens equal to
        TensorFlow float32's, of `new_tokens`) and `text`; also written to
        `export_verification.json` in `folder`.
    """
    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate
    from tfllm.inference.litert_lm import LiteRTCausalLM

    ids = preprocessor.prompt_ids([VERIFY_PROMPT])[0]
    settings = json.loads(pathlib.Path(folder, "generation.json").read_text())
    new_tokens = min(new_tokens, settings["max_length"] - len(ids))
    if new_tokens < 1:
        print(f"  not verified: the {len(ids)}-token check prompt does not "
              f"fit the {settings['max_length']} cache slots")
        return {}
    reference = [int(t) for t in generate(
        causal_lm, [ids], GenerationConfig(max_new_tokens=new_tokens))[0]]
    report = {}
    for recipe in recipes:
        engine = LiteRTCausalLM(folder, num_threads, recipe)
        tokens = engine.generate(ids, max_new_tokens=new_tokens)
        agreeing = 0
        for a, b in zip(tokens, reference):
            if a != b:
                break
            agreeing += 1
        text = preprocessor.tokenizer.detokenize(tokens)
        report[recipe] = {"agreeing_tokens": agreeing, "of": new_tokens,
                          "text": text if isinstance(text, str)
                          else text.numpy().decode("utf-8", "replace")}
        print(f"  {recipe}: {agreeing}/{new_tokens} greedy tokens equal "
              f"TensorFlow float32's; {report[recipe]['text']!r}")
    pathlib.Path(folder, "export_verification.json").write_text(
        json.dumps({"prompt": VERIFY_PROMPT, "recipes": report}, indent=2)
        + "\n")
    return report
