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
        "help": "causal-lm: 'smollm2', a .gguf file, a decoder folder "
                "(e.g. runs/<clm-run>/pretrained) or a fine-tuned causal LM "
                "(.keras or run folder); Llama family or GPT-2"})
    recipes: str = dataclasses.field(default="dynamic_int8,fp32", metadata={
        "help": "causal-lm: LiteRT recipes, comma-separated (the first is "
                "the bundle's default), of fp32, fp16, "
                "dynamic_int8, weight_only_int8, dynamic_int4_block32, "
                "dynamic_int4_block64, dynamic_int4_block128, "
                "dynamic_int4_mlp_int8"})
    max_length: int = dataclasses.field(default=1024, metadata={
        "help": "causal-lm: KV cache slots (prompt + generated tokens, at "
                "least the largest prefill length); a decode step attends "
                "to all of them, so smaller is faster"})
    prefill_lengths: str = dataclasses.field(default="32,128", metadata={
        "help": "causal-lm: prefill bucket lengths (tokens), "
                "comma-separated; longer prompts are prefilled in chunks"})
    run_dir: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "run folder with model.keras and config.json (required "
                "unless --task causal-lm)"})
    name: Optional[str] = dataclasses.field(default=None, metadata={
        "help": "TF Serving model name; default: the dataset, or 'ner' "
                "(causal-lm: the model's file stem, naming the bundle "
                "folder saved_models/<name>_litert)"})
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
        "help": "run every artifact on the validation split (causal-lm: "
                "compare each recipe's next-token choices with TensorFlow's "
                "on a fixed prompt)"})
    max_eval: Optional[int] = dataclasses.field(default=None, metadata={
        "help": "verify on the first N validation items only"})
    latency_samples: int = dataclasses.field(default=200, metadata={
        "help": "items timed one at a time (batch 1)"})
    num_threads: Optional[int] = dataclasses.field(default=None, metadata={
        "help": "LiteRT interpreter threads; none given: LiteRT's choice "
                "(causal-lm: every core)"})
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
    `config.verify`, each recipe's next-token choices on TensorFlow's
    greedy continuation of a fixed prompt are compared with TensorFlow's
    (`verify_causal_lm_bundle`), written to `export_verification.json`.

    Returns:
        dict: `litert` (the folder), `settings` (`generation.json`) and
        `verification` (per recipe: `agreeing`, `of`, `text`).

    Raises:
        ValueError: no `--model`, a format other than `litert`, or a model
            the LiteRT export does not cover.
    """
    from tfllm.data.errors import UserInputError
    from tfllm.export.litert_causal_lm import export_causal_lm
    from tfllm.models.sft_causal_lm import SFTCausalLM

    if config.format not in (None, "litert"):
        raise ValueError(f"--format: causal-lm exports to 'litert', got "
                         f"{config.format!r}")
    lengths = [int(n) for n in config.prefill_lengths.split(",") if n]
    if not lengths or max(lengths) > config.max_length:
        raise UserInputError(
            f"--max-length {config.max_length} is shorter than the largest "
            f"prefill bucket ({max(lengths or [0])}): raise --max-length or "
            "give shorter --prefill-lengths (e.g. 32,64)")
    model = config.model or "smollm2"
    name = config.name or pathlib.Path(model).stem.replace(".", "_")
    folder = pathlib.Path(config.litert_dir or f"saved_models/{name}_litert")
    loaded = SFTCausalLM.from_pretrained(model)
    causal_lm, preprocessor = loaded.causal_lm(), loaded.preprocessor
    recipes = [r for r in config.recipes.split(",") if r]
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
    """Every recipe's next-token choices beside TensorFlow's float32 model.

    TensorFlow greedily continues a fixed chat prompt (up to `new_tokens`
    tokens, ending at a stop token); each LiteRT model then reads the same
    tokens (teacher forcing) and picks its own next token at every step.
    Counting agreeing choices, rather than the leading run of equal tokens,
    keeps one near-tie early on from hiding that the rest agree.

    Returns:
        dict: recipe -> `agreeing` (next-token choices equal to
        TensorFlow float32's), `of` (choices compared) and `text` (the
        recipe's own greedy continuation, up to a stop token); also written
        to `export_verification.json` in `folder`.
    """
    import numpy as np

    from tfllm.generation import GenerationConfig
    from tfllm.generation import generate
    from tfllm.generation.litert_text import detokenize_text
    from tfllm.inference.litert_lm import LiteRTCausalLM

    ids = preprocessor.prompt_ids([VERIFY_PROMPT])[0]
    settings = json.loads(pathlib.Path(folder, "generation.json").read_text())
    stops = set(settings.get("stop_token_ids") or [])
    new_tokens = min(new_tokens, settings["max_length"] - len(ids))
    if new_tokens < 1:
        print(f"  not verified: the {len(ids)}-token check prompt does not "
              f"fit the {settings['max_length']} cache slots")
        return {}
    reference = [int(t) for t in generate(
        causal_lm, [ids], GenerationConfig(max_new_tokens=new_tokens),
        stop_token_ids=sorted(stops))[0]]
    report = {}
    for recipe in recipes:
        engine = LiteRTCausalLM(folder, num_threads, recipe)
        chosen = [int(np.argmax(engine.logits_after(ids)))]
        for token in reference[:-1]:
            chosen.append(int(np.argmax(engine.decode(token))))
        agreeing = sum(a == b for a, b in zip(chosen, reference))
        own = engine.generate(ids, max_new_tokens=new_tokens,
                              stop_token_ids=stops)
        report[recipe] = {"agreeing": agreeing, "of": len(reference),
                          "text": detokenize_text(
                              preprocessor.tokenizer,
                              [t for t in own if t not in stops])}
        print(f"  {recipe}: {agreeing}/{len(reference)} next-token choices "
              f"equal TensorFlow float32's (teacher-forced); greedy text "
              f"{report[recipe]['text']!r}")
    pathlib.Path(folder, "export_verification.json").write_text(
        json.dumps({"prompt": VERIFY_PROMPT, "recipes": report}, indent=2)
        + "\n")
    return report
