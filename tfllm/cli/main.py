"""The `tfllm` command: one entry point for every tool.

    tfllm train ner|classifier|mlm|clm|sft|continual|distill [options]
    tfllm predict ner|classifier [TEXT ...] [options]
    tfllm baseline tfidf --datasets NAME,...
    tfllm export | generate | zero-shot | monitor | make-sentiment-stream
    tfllm faq build|train|evaluate|export|ask [options]
    tfllm active simulate|select|add-labels [options]
    tfllm config show <command> [options]   # the resolved settings as YAML

Each command is the `main(argv)` of a module in `tfllm.cli`, imported only
when it runs, so `tfllm --help` answers at once. `python -m tfllm` is the
same command. `parsers()` gives every command's argument parser (the CLI
reference of the docs is generated from it).
"""

import argparse
import contextlib
import difflib
import importlib
import importlib.util
import sys

PROG = "tfllm"

# (words, module, one-line description, optional: listed only when the
# module exists)
COMMANDS = (
    (("train", "ner"), "tfllm.cli.train_ner",
     "fine-tune an encoder for named-entity recognition", False),
    (("train", "classifier"), "tfllm.cli.train_classifier",
     "fine-tune an encoder for text classification", False),
    (("train", "mlm"), "tfllm.cli.pretrain_mlm",
     "masked-LM pre-training of a BERT encoder on a text corpus", False),
    (("train", "clm"), "tfllm.cli.pretrain_clm",
     "causal-LM pre-training of a GPT-2-style decoder on a text corpus",
     False),
    (("train", "sft"), "tfllm.cli.finetune_clm",
     "supervised fine-tuning of a causal LM on prompt/response pairs",
     False),
    (("train", "continual"), "tfllm.cli.train_continual",
     "fine-tune one encoder on a sequence of tasks without forgetting "
     "(replay, EWC, per-task LoRA) and report the accuracy matrix", False),
    (("train", "distill"), "tfllm.cli.distill",
     "distil a trained NER or classifier run into a smaller student", False),
    (("predict", "ner"), "tfllm.cli.predict_ner",
     "print the named entities of texts with a trained NER model", False),
    (("predict", "classifier"), "tfllm.cli.predict_classifier",
     "print the label and probability of texts with a trained classifier",
     False),
    (("evaluate", "ner"), "tfllm.cli.evaluate_ner",
     "score a trained NER model on a labelled file", True),
    (("evaluate", "classifier"), "tfllm.cli.evaluate_classifier",
     "score a trained classifier on a labelled file", True),
    (("evaluate", "robustness"), "tfllm.cli.evaluate_robustness",
     "scores of a trained NER model or classifier under seeded "
     "character-level noise (typos, homophones, traditional characters)",
     True),
    (("baseline", "tfidf"), "tfllm.cli.tfidf_baseline",
     "character n-gram TF-IDF + logistic regression on known "
     "classification datasets (a baseline for fine-tuned encoders)", False),
    (("export",), "tfllm.cli.export",
     "export a run folder for deployment (SavedModel, TFLite) and verify it",
     False),
    (("generate",), "tfllm.cli.generate",
     "generate text with a causal LM (SmolLM2, a GGUF file, a fine-tune)",
     False),
    (("zero-shot",), "tfllm.cli.zero_shot",
     "zero- and few-shot classification with a prompt or an encoder", False),
    (("faq",), "tfllm.cli.faq_assistant",
     "FAQ assistant: build | train | evaluate | export | ask", False),
    (("recommend",), "tfllm.cli.recommend",
     "recommender: train | evaluate | export | recommend", False),
    (("active",), "tfllm.cli.active",
     "active learning: simulate | select | add-labels (pick the texts "
     "worth labelling next)", False),
    (("monitor",), "tfllm.cli.sentiment_monitor",
     "watch a stream of texts for bursts of negative sentiment", False),
    (("make-sentiment-stream",), "tfllm.cli.make_sentiment_stream",
     "build a seeded evaluation stream for `tfllm monitor`", False),
    (("config", "show"), None,
     "print the resolved settings of a command (its flags + --config) as "
     "YAML", False),
)


class UsageError(Exception):
    """A command line `tfllm` cannot dispatch; printed with the usage."""

    def __init__(self, message, prog=PROG, usage=None):
        super().__init__(message)
        self.prog = prog
        self.usage = usage


def _available(module, optional):
    if not optional:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def commands():
    """The commands this installation offers.

    Returns:
        list of `(words, module, description)`: `words` a tuple such as
        `("train", "ner")`, `module` the `tfllm.cli` module whose
        `main(argv)` runs it (None for `config show`, handled here).
    """
    return [(words, module, text) for words, module, text, optional
            in COMMANDS if _available(module, optional)]


def _groups():
    groups = {}
    for words, module, text in commands():
        groups.setdefault(words[0], []).append((words, module, text))
    return groups


def _usage():
    return f"usage: {PROG} [-h] [--version] [-v] <command> [<task>] " \
           f"[options]\n"


def format_help():
    """The text of `tfllm --help`: every command with its description."""
    rows = [(" ".join(words), text) for words, _, text in commands()]
    width = max(len(name) for name, _ in rows) + 2
    lines = [_usage(),
             "fine-tune, evaluate and deploy transformer language models "
             "with TensorFlow and Keras.\n", "commands:"]
    lines += [f"  {name:<{width}}{text}" for name, text in rows]
    lines += ["", "options:",
              "  -h, --help     show this message and exit",
              "  --version      print the version and exit",
              "  -v, --verbose  show TensorFlow's own log lines (passed to "
              "the command)",
              "", f"Run '{PROG} <command> --help' for a command's options; "
              f"every command built from settings takes --config FILE "
              f"(YAML or TOML)."]
    return "\n".join(lines) + "\n"


def format_group_help(verb):
    """The text of `tfllm <verb> --help` (`train`, `predict`, ...)."""
    rows = [(words[1], text) for words, _, text in _groups()[verb]]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"usage: {PROG} {verb} <task> [options]\n",
             f"{'tasks' if verb != 'config' else 'actions'}:"]
    lines += [f"  {name:<{width}}{text}" for name, text in rows]
    lines += ["", f"Run '{PROG} {verb} <task> --help' for its options."]
    return "\n".join(lines) + "\n"


def _suggest(word, choices):
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close \
        else ""


def resolve(argv):
    """Splits a command line into `(words, module, rest)`.

    Args:
        argv: list of str: what follows `tfllm` (`["train", "ner",
            "--epochs", "1"]`).

    Returns:
        `(words, module, rest)`: the command's words, its module name
        (None for `config show`) and the arguments for its `main`.

    Raises:
        UsageError: no command, an unknown command or task (with close
            matches).
    """
    groups = _groups()
    if not argv:
        raise UsageError("give a command")
    verb = argv[0]
    if verb not in groups:
        raise UsageError(f"unknown command {verb!r}"
                         f"{_suggest(verb, list(groups))}")
    entries = groups[verb]
    if len(entries) == 1 and len(entries[0][0]) == 1:
        words, module, _ = entries[0]
        return words, module, list(argv[1:])
    tasks = {words[1]: (words, module) for words, module, _ in entries}
    prog = f"{PROG} {verb}"
    usage = f"usage: {prog} <task> [options]   (tasks: " \
            f"{', '.join(tasks)})\n"
    if len(argv) < 2 or argv[1].startswith("-"):
        raise UsageError(f"choose a task: {', '.join(tasks)}", prog, usage)
    task = argv[1]
    if task not in tasks:
        raise UsageError(f"unknown task {task!r}{_suggest(task, list(tasks))}"
                         f"; tasks: {', '.join(tasks)}", prog, usage)
    words, module = tasks[task]
    return words, module, list(argv[2:])


@contextlib.contextmanager
def _program_name(prog):
    """argparse names the program after `sys.argv[0]`: the command's own
    parser then prints `usage: tfllm train ner ...`."""
    saved = sys.argv[0] if sys.argv else None
    if sys.argv:
        sys.argv[0] = prog
    else:
        sys.argv.append(prog)
    try:
        yield
    finally:
        sys.argv[0] = saved


def build_command_parser(words, module=None):
    """The argument parser of one command, or None when its module offers
    neither `build_parser(prog)` nor a `PARSER_CLASSES` list.

    Args:
        words: tuple of str, e.g. `("train", "ner")`.
        module: the imported module, or None to import it.

    Returns:
        `argparse.ArgumentParser` or None.
    """
    prog = " ".join((PROG,) + tuple(words))
    if module is None:
        name = dict((w, m) for w, m, _ in commands())[tuple(words)]
        if name is None:
            return _config_show_parser()
        module = importlib.import_module(name)
    if hasattr(module, "build_parser"):
        return module.build_parser(prog=prog)
    from tfllm.cli.args import build_parser

    classes = getattr(module, "PARSER_CLASSES", None)
    if classes:
        return build_parser(list(classes), module.__doc__, prog)
    captured = _captured_classes(module)
    if captured is not None:
        return build_parser(captured[0], captured[1], prog)
    return None


class _Captured(Exception):
    def __init__(self, classes, description):
        super().__init__("captured")
        self.classes = list(classes)
        self.description = description


def _captured_classes(module):
    """`(classes, description)` a module's `main` passes to
    `parse_dataclasses`, or None.

    A fallback for command modules that expose neither `build_parser` nor
    `PARSER_CLASSES`: their `main([])` runs with the module's
    `parse_dataclasses` replaced by one that stops at the call (their
    `main` parses its flags first, before any work).
    """
    original = getattr(module, "parse_dataclasses", None)
    if original is None or not hasattr(module, "main"):
        return None

    def capture(classes, argv=None, description=None, prog=None):
        raise _Captured(classes, description)

    module.parse_dataclasses = capture
    try:
        module.main([])
    except _Captured as captured:
        return captured.classes, captured.description
    except Exception:  # noqa: BLE001 - work before the parse: no parser
        return None
    finally:
        module.parse_dataclasses = original
    return None


_CONFIG_SHOW_USAGE = f"usage: {PROG} config show <command> [options]\n"


def _config_show_parser():
    parser = argparse.ArgumentParser(
        prog=f"{PROG} config show",
        description="Print the settings a command would run with (code "
                    "defaults < --config file < flags) as YAML, the format "
                    "--config reads and runs write to config.yaml.")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command and its flags, e.g. train ner "
                             "--config run.yaml --epochs 3")
    return parser


def parsers():
    """Every command's argument parser, for the CLI reference.

    Imports each command's module (TensorFlow included). A command whose
    module exposes neither `build_parser(prog=None)` nor `PARSER_CLASSES`
    is left out. Commands with their own subcommands (`faq`) are followed
    by one entry per subcommand.

    Yields:
        `(words, parser)`: `words` a tuple (`("train", "ner")`,
        `("faq", "build")`), `parser` an `argparse.ArgumentParser` whose
        `prog` is the full command (`tfllm train ner`).
    """
    for words, _, _ in commands():
        parser = build_command_parser(words)
        if parser is None:
            continue
        yield words, parser
        for name, sub in _subparsers(parser).items():
            yield words + (name,), sub


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def config_show(argv):
    """`tfllm config show <command> [flags]`: prints the resolved settings.

    Returns:
        str: the YAML printed.

    Raises:
        UsageError: an unknown command, or one whose settings are not
            available (its module exposes no parser).
    """
    if not argv or argv[0] in ("-h", "--help"):
        _config_show_parser().print_help()
        return ""
    words, module, rest = resolve(argv)
    if module is None:
        raise UsageError("config show shows another command's settings",
                         f"{PROG} config show", _CONFIG_SHOW_USAGE)
    parser = build_command_parser(words)
    if parser is None:
        raise UsageError(f"'{PROG} {' '.join(words)}' does not expose its "
                         f"settings (no build_parser or PARSER_CLASSES)",
                         f"{PROG} config show", _CONFIG_SHOW_USAGE)
    namespace = getattr(parser, "parse", parser.parse_args)(rest)
    leaf = _subparsers(parser).get(getattr(namespace, "command", None),
                                   parser)
    from tfllm.config import dump_config

    if getattr(leaf, "classes", None):
        text = dump_config(*leaf.instances(namespace), exclude=("run_name",))
    else:
        import yaml

        values = {k: v for k, v in vars(namespace).items()
                  if k not in ("config", "verbose", "command")}
        text = yaml.safe_dump(values, sort_keys=False, allow_unicode=True)
    print(text, end="")
    return text


def plan(argv=None):
    """What `tfllm <argv>` will run, without running it (fast: imports no
    command module).

    Handles `--help`, `--version` and `tfllm <verb> --help` itself (prints,
    then `SystemExit(0)`). `-v`/`--verbose` before the command is passed on
    to it.

    Returns:
        `(words, module, rest)` as `resolve` gives them.

    Raises:
        UsageError: no command, an unknown option, command or task.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    leading = []
    while argv and argv[0].startswith("-"):
        option = argv.pop(0)
        if option in ("-h", "--help"):
            print(format_help(), end="")
            raise SystemExit(0)
        if option == "--version":
            from tfllm import __version__

            print(f"{PROG} {__version__}")
            raise SystemExit(0)
        if option in ("-v", "--verbose") or option.startswith("-vv"):
            leading.append(option)
            continue
        raise UsageError(f"unknown option {option!r} before the command")
    groups = _groups()
    if len(argv) >= 2 and argv[0] in groups and argv[1] in ("-h", "--help") \
            and len(groups[argv[0]][0][0]) == 2:
        print(format_group_help(argv[0]), end="")
        raise SystemExit(0)
    words, module, rest = resolve(argv)
    return words, module, rest + leading


def run(words, module, rest):
    """Runs a planned command: its module's `main(rest)` (imported now),
    with argparse's program name set to `tfllm <words>`.

    Returns:
        whatever that `main` returns.
    """
    if module is None:
        return config_show(rest)
    with _program_name(" ".join((PROG,) + tuple(words))):
        loaded = importlib.import_module(module)
        return loaded.main(rest)


def _usage_exit(error):
    print(error.usage or _usage(), end="", file=sys.stderr)
    print(f"{error.prog}: error: {error}", file=sys.stderr)
    raise SystemExit(2) from None


def main(argv=None):
    """Runs `tfllm <argv>` and returns the command's `main` result.

    No command prints the help to stderr; usage errors print the usage
    and one `error:` line; both exit 2. Errors of the command itself
    propagate (`cli` prints user errors as one line).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(format_help(), end="", file=sys.stderr)
        raise SystemExit(2)
    try:
        return run(*plan(argv))
    except UsageError as e:
        _usage_exit(e)


def cli():
    """Console-script entry point (`tfllm`, `python -m tfllm`).

    User errors of the command (bad files, settings, config files) are
    printed as one `error:` line, exit 2 (`tfllm.cli.args.run_cli`).
    Returns None (exit status 0) whatever the command's `main` returns, so
    a report dict is not taken for an exit status.
    """
    argv = sys.argv[1:]
    if not argv:
        main(argv)
    try:
        planned = plan(argv)  # help and usage errors need no TensorFlow
    except UsageError as e:
        _usage_exit(e)
    from tfllm.cli.args import run_cli

    try:
        run_cli(lambda: run(*planned))
    except UsageError as e:  # config show of an unknown command
        _usage_exit(e)
    return None


if __name__ == "__main__":
    cli()
