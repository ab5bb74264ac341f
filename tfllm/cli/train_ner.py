"""Fine-tune an encoder for NER (token classification) and export it.

Default run: the offline MiniLM encoder on CoNLL-2003 (train.txt, scored on
valid.txt) with a CRF head (head learning rate 1e-3), then a raw-text
SavedModel in `saved_models/ner/<version>/`. `--dataset cluener2020`,
`weibo_ner` or `char_bio` train on Chinese character-labelled data; the
export then splits raw text into one word per CJK character
(`tfllm.preprocessing.word_splitter`). The run itself is
`tfllm.runs.ner.run`, built on the Python API of `TokenClassifier`.
"""

from tfllm.cli.args import parse_dataclasses
from tfllm.cli.args import run_cli
from tfllm.peft.options import PeftArgs
from tfllm.runs.ner import NerConfig
from tfllm.runs.ner import NerTrainingConfig
from tfllm.runs.ner import run

# Kept for callers that imported them from here.
from tfllm.runs.ner import load_splits  # noqa: F401
from tfllm.runs.ner import report_data  # noqa: F401
from tfllm.runs.ner import report_split  # noqa: F401
from tfllm.runs.ner import write_summary  # noqa: F401


# The flags of this command (the `tfllm` dispatcher and the CLI reference
# build its parser from these).
PARSER_CLASSES = [NerConfig, NerTrainingConfig, PeftArgs]


def main(argv=None):
    """Parses the flags (`NerConfig`, `NerTrainingConfig`, `PeftArgs`) and
    runs `tfllm.runs.ner.run`; returns the run folder (None on a non-chief
    worker)."""
    config, training, peft_args = parse_dataclasses(
        PARSER_CLASSES, argv, description=__doc__
    )
    return run(config, training, peft_args)


def cli():
    """Console-script entry point."""
    run_cli(main)  # exit status 0; main returns a value for Python callers


if __name__ == "__main__":
    run_cli(main)
