"""MkDocs hook: writes `reference/cli.md`, the `--help` of every `tfllm` command.

The page is generated at build time from the argparse definitions, so it
cannot drift from the code. The source of the parsers is
`tfllm.cli.main.parsers()`, which yields `(command_words, parser)` pairs,
e.g. `(("train", "ner"), <ArgumentParser>)`.

`cli_help_sections()` is also used by tests/docs/test_docs.py.
"""

import contextlib
import importlib
import importlib.util
import io
import os
import sys

from mkdocs.structure.files import File

PAGE = "reference/cli.md"

INTRO = """# CLI reference

Every command is `tfllm <verb> [<task>] [flags]`; `python -m tfllm` is the same
command. Flags that mean the same thing have the same name in every command
(`--backbone`, `--model`, `--dataset`, `--max-train-examples`, `--output-dir`,
`--config`, ...). Every command built from settings dataclasses also takes
`--config FILE` (YAML or TOML); see
[Configuration and run folders](../guides/configuration.md).

This page is generated from the argument definitions when the site is built.
"""

# ---------------------------------------------------------------------------
# FALLBACK (delete once tfllm/cli/main.py with `parsers()` is merged):
# until the `tfllm` dispatcher exists, the help text is captured by calling
# each command module's `main(["--help"])`. The command words are the ones
# DESIGN.md gives the dispatcher.
_FALLBACK_COMMANDS = [
    (("train", "ner"), "tfllm.cli.train_ner", []),
    (("train", "classifier"), "tfllm.cli.train_classifier", []),
    (("train", "mlm"), "tfllm.cli.pretrain_mlm", []),
    (("train", "clm"), "tfllm.cli.pretrain_clm", []),
    (("train", "sft"), "tfllm.cli.finetune_clm", []),
    (("train", "distill"), "tfllm.cli.distill", []),
    (("predict", "ner"), "tfllm.cli.predict_ner", []),
    (("predict", "classifier"), "tfllm.cli.predict_classifier", []),
    (("export",), "tfllm.cli.export", []),
    (("generate",), "tfllm.cli.generate", []),
    (("zero-shot",), "tfllm.cli.zero_shot", []),
    (("faq", "build"), "tfllm.cli.faq_assistant", ["build"]),
    (("faq", "train"), "tfllm.cli.faq_assistant", ["train"]),
    (("faq", "evaluate"), "tfllm.cli.faq_assistant", ["evaluate"]),
    (("faq", "export"), "tfllm.cli.faq_assistant", ["export"]),
    (("faq", "ask"), "tfllm.cli.faq_assistant", ["ask"]),
    (("monitor",), "tfllm.cli.sentiment_monitor", []),
    (("make-sentiment-stream",), "tfllm.cli.make_sentiment_stream", []),
]


def _fallback_help(words, module_name, prefix):
    module = importlib.import_module(module_name)
    out = io.StringIO()
    saved = sys.argv[0]
    sys.argv[0] = " ".join(("tfllm",) + words[: len(words) - len(prefix)])
    try:
        with contextlib.redirect_stdout(out):
            module.main(prefix + ["--help"])
    except SystemExit:
        pass
    finally:
        sys.argv[0] = saved
    return out.getvalue()
# END OF FALLBACK
# ---------------------------------------------------------------------------


def cli_help_sections():
    """Returns [(command words tuple, --help text)] for every `tfllm` command."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("COLUMNS", "100")  # stable wrapping of the help
    if importlib.util.find_spec("tfllm.cli.main") is not None:
        from tfllm.cli.main import parsers  # errors in it fail the build

        sections = []
        for words, parser in parsers():
            parser.prog = " ".join(("tfllm",) + tuple(words))
            sections.append((tuple(words), parser.format_help()))
        return sections
    return [(words, _fallback_help(words, module, prefix))  # FALLBACK
            for words, module, prefix in _FALLBACK_COMMANDS]


def render():
    """The Markdown of the CLI reference page."""
    parts = [INTRO]
    for words, text in cli_help_sections():
        name = " ".join(("tfllm",) + words)
        parts.append(f"## `{name}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def on_files(files, config):
    files.append(File.generated(config, PAGE, content=render()))
    return files
