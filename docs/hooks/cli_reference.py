"""MkDocs hook: writes `reference/cli.md`, the `--help` of every `tfllm` command.

The page is generated at build time from the argparse definitions, so it
cannot drift from the code. The source of the parsers is
`tfllm.cli.main.parsers()`, which yields `(command_words, parser)` pairs,
e.g. `(("train", "ner"), <ArgumentParser>)`.

`cli_help_sections()` is also used by tests/docs/test_docs.py.
"""

import importlib
import os

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



def cli_help_sections():
    """Returns [(command words tuple, --help text)] for every `tfllm` command."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("COLUMNS", "100")  # stable wrapping of the help
    from tfllm.cli.main import parsers  # errors in it fail the build

    sections = []
    for words, parser in parsers():
        parser.prog = " ".join(("tfllm",) + tuple(words))
        sections.append((tuple(words), parser.format_help()))
    return sections


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
