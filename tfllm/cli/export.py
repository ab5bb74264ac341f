"""Export a run folder for deployment and verify every artifact; or, with
`--task causal-lm --format litert`, a decoder (`--model`) for on-device
generation: one LiteRT model per recipe with prefill/decode signatures and
a KV cache, its tokenizer and chat template beside it.

From a NER or text-classification run folder (`model.keras`, `config.json`)
it writes a raw-text TF Serving SavedModel version (with warm-up requests
and `models.config`), a LiteRT bundle (float32, float16, dynamic-range int8,
full-integer int8 `.tflite` files with the vocabulary beside them),
optionally a Keras `quantize("int8")` SavedModel, and then runs each one on
the run's validation split: `export_verification.md` and `.json` in
the run folder (or `--report-dir`).
"""

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.runs.export import ExportConfig
from tfllm.runs.export import export_run
# Re-exported for callers that import them from here.
from tfllm.runs.run_data import default_name  # noqa: F401
from tfllm.runs.run_data import load_run  # noqa: F401
from tfllm.runs.run_data import load_run_data  # noqa: F401


# The flags of this command (the `tfllm` dispatcher and the CLI reference
# build its parser from these).
PARSER_CLASSES = [ExportConfig]


def main(argv=None):
    """Parses `ExportConfig` flags and runs `tfllm.runs.export.export_run`;
    returns its result dict."""
    (config,) = parse_dataclasses(
        PARSER_CLASSES, argv, description=__doc__)
    if config.run_dir is None and config.task != "causal-lm":
        raise SystemExit("give --run-dir RUN_FOLDER (or --task causal-lm "
                         "--model MODEL)")
    return export_run(config)


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
