"""Command-line flags from dataclasses (argparse, standard library).

Each dataclass field becomes `--field-name`; its type, default and the
`help` entry of its metadata come from the field. Booleans are
`--flag/--no-flag` pairs (`argparse.BooleanOptionalAction`), so each can
be switched both ways whatever the default or the config file says.

Field metadata understood here:

- `"help"`: the help text (`tfllm.config.help_field` sets it);
- `"aliases"`: old spellings (`["--max-train-sentences"]`), accepted on
  the command line and in config files, hidden from `--help`;
- `"positional"`: True for a list field filled by the positional
  arguments (`TEXT ...`).

Every parser also takes `--config FILE` (YAML or TOML, see `tfllm.config`;
repeat it to layer files, later files win) and `-v/--verbose`.
Precedence: code defaults < config files < flags.
"""

import argparse
import dataclasses
import sys

from tfllm.config import field_type
from tfllm.config import help_field  # noqa: F401  (re-exported)
from tfllm.config import load_config

RESERVED = ("config", "verbose")


def _flag(name):
    return "--" + name.replace("_", "-")


def add_dataclass_arguments(parser, cls):
    """Adds one flag per field of dataclass `cls` to `parser`.

    Booleans get `--x/--no-x`; `Optional[T]` fields take a `T`; a field's
    `aliases` metadata adds hidden flags with the same destination; a field
    with `{"positional": True}` metadata becomes `name ...` (nargs `*`).
    """
    for field in dataclasses.fields(cls):
        kind, _ = field_type(cls, field)
        default = field.default
        if default is dataclasses.MISSING and \
                field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        help_text = field.metadata.get("help", "")
        if field.metadata.get("positional"):
            parser.add_argument(field.name, nargs="*", default=default,
                                metavar=field.name.upper().rstrip("S"),
                                help=help_text)
            continue
        aliases = list(field.metadata.get("aliases", ()))
        if kind is bool:
            options = dict(dest=field.name, default=default,
                           action=argparse.BooleanOptionalAction)
            # BooleanOptionalAction appends "(default: ...)" itself.
            shown = dict(help=help_text)
        else:
            options = dict(dest=field.name, default=default,
                           type=kind if kind in (int, float, str) else None)
            shown = dict(help=f"{help_text} (default: "
                         f"{str(default).replace('%', '%%')})".lstrip())
        parser.add_argument(_flag(field.name), **options, **shown)
        for alias in aliases:
            parser.add_argument(alias, **{**options,
                                          "default": argparse.SUPPRESS},
                                help=argparse.SUPPRESS)


class DataclassParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose flags come from dataclasses and that reads
    `--config FILE` before parsing: the file's values (checked and typed by
    `tfllm.config.load_config`) replace the code defaults, and flags given
    on the command line replace the file's values.

    Args:
        classes: sequence of dataclass types (the flags; `.classes`).
        All other arguments are `argparse.ArgumentParser`'s; the formatter
        defaults to `RawDescriptionHelpFormatter` (module docstrings keep
        their layout).
    """

    def __init__(self, *args, classes=(), **kwargs):
        kwargs.setdefault("formatter_class",
                          argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.classes = list(classes)
        for cls in self.classes:
            add_dataclass_arguments(self, cls)
        names = {f.name for cls in self.classes
                 for f in dataclasses.fields(cls)}
        if self.classes and "config" not in names:
            self.add_argument(
                "--config", metavar="FILE", default=None,
                help="settings from a YAML or TOML file (keys: the flag "
                     "names with '_'); several: later files win; flags "
                     "given here override them")
        if "verbose" not in names:
            self.add_argument(
                "-v", "--verbose", action="count", default=0,
                help="show TensorFlow's own log lines and debug messages")

    def parse_known_args(self, args=None, namespace=None):
        if args is None:
            args = sys.argv[1:]
        args = list(args)
        paths = _config_paths(args)
        if paths and self.classes:
            values = {}
            for path in paths:
                values.update(load_config(path, self.classes))
            namespace = namespace or argparse.Namespace()
            for key, value in values.items():
                if not hasattr(namespace, key):
                    setattr(namespace, key, value)
        return super().parse_known_args(args, namespace)

    def parse(self, args=None):
        """`parse_args`, or `parse_intermixed_args` when the parser has
        positional arguments (`TEXT ...` may then stand before, between
        and after the flags)."""
        positional = [a for a in self._actions if not a.option_strings
                      and not isinstance(a, argparse._SubParsersAction)]
        if positional:
            return self.parse_intermixed_args(args)
        return self.parse_args(args)

    def instances(self, namespace):
        """One instance of each dataclass from a parsed namespace."""
        values = vars(namespace)

        def value(cls, field):
            given = values[field.name]
            if isinstance(given, list) and field_type(cls, field)[0] is tuple:
                return tuple(given)  # nargs "*" gives a list
            return given

        return [cls(**{f.name: value(cls, f)
                       for f in dataclasses.fields(cls)})
                for cls in self.classes]


def _config_paths(args):
    """The values of every `--config` in `args` (before a bare `--`), in
    order."""
    paths = []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(args):
            paths.append(args[i + 1])
        elif arg.startswith("--config="):
            paths.append(arg.split("=", 1)[1])
    return paths


def build_parser(classes, description=None, prog=None):
    """The parser of a command whose flags are the fields of `classes`.

    Args:
        classes: sequence of dataclass types.
        description: str or None. Shown by `--help` (layout kept).
        prog: str or None. The command as the user types it
            (`"tfllm train ner"`); None: argparse's default (the script).

    Returns:
        `DataclassParser` (also takes `--config FILE` and `-v`).
    """
    return DataclassParser(prog=prog, description=description,
                           classes=classes)


def build_subcommand_parser(commands, command_help, description=None,
                            prog=None):
    """An argument parser with one `DataclassParser` subcommand per entry of
    `commands` (`tfllm faq ...`, `tfllm recommend ...`).

    Args:
        commands: dict `name -> (list of dataclasses, function)`.
        command_help: dict `name -> one-line help`.
        description: str or None. The command's `--help` text.
        prog: str or None.

    Returns:
        `argparse.ArgumentParser`; the chosen name is in `namespace.command`
        and `subcommand_parser(parser, name).instances(namespace)` gives the
        dataclass instances.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="{" + ",".join(commands) + "}",
        parser_class=DataclassParser)
    for name, (classes, _) in commands.items():
        subparsers.add_parser(name, help=command_help[name], classes=classes,
                              description=command_help[name])
    return parser


def subcommand_parser(parser, name):
    """The `DataclassParser` of subcommand `name` of a parser from
    `build_subcommand_parser`.

    Raises:
        KeyError: no such subcommand.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


def run_subcommand(parser, commands, argv=None):
    """Parses `argv` with a `build_subcommand_parser` parser and calls the
    chosen command's function with its dataclass instances; returns what
    it returns."""
    namespace = parser.parse_args(argv)
    name = namespace.command
    values = subcommand_parser(parser, name).instances(namespace)
    return commands[name][1](*values)


def parse_dataclasses(classes, argv=None, description=None, prog=None):
    """Parses `argv` into one instance of each dataclass in `classes`.

    Values come from the code defaults, then `--config FILE`, then the
    flags on the command line (each overriding the one before).

    Args:
        classes: sequence of dataclass types.
        argv: list of str or None (`sys.argv[1:]`).
        description: str or None. `--help` text.
        prog: str or None. Usage name (`"tfllm train ner"`).

    Returns:
        list: instances, in the order of `classes`.

    Raises:
        SystemExit: unknown or malformed flags (argparse's usage error).
        FileNotFoundError: the `--config` file does not exist.
        tfllm.config.ConfigError: a malformed config file, an unknown key
            or a value of the wrong type (file, line and key named).
    """
    parser = build_parser(classes, description, prog)
    return parser.instances(parser.parse(argv))


def _os_error_line(e):
    if e.filename is None:
        return str(e)
    reasons = {FileNotFoundError: "no such file or directory",
               IsADirectoryError: "is a directory, not a file",
               PermissionError: "permission denied"}
    reason = next((text for kind, text in reasons.items()
                   if isinstance(e, kind)), (e.strerror or str(e)).lower())
    return f"{e.filename}: {reason}"


def run_cli(main):
    """Runs a command's `main`; user errors end it with one line, exit 2.

    Bad input or config files, settings the user must change
    (`UserInputError`), missing data or checkpoints, a file that cannot be
    opened (`FileNotFoundError`, `IsADirectoryError`, `PermissionError`:
    `error: <path>: no such file or directory`), an unavailable backbone
    and a diverging loss are the user's to fix: they are printed as
    `error: <message>` (the message names file and line where there is one)
    without a Python traceback. Anything else propagates unchanged.

    Returns:
        whatever `main()` returns.
    """
    from tfllm.backbones import BackboneNotAvailableError
    from tfllm.data.errors import DataFormatError
    from tfllm.data.errors import UserInputError
    from tfllm.training.callbacks import NonFiniteLossError

    user_errors = (DataFormatError, UserInputError,
                   BackboneNotAvailableError, NonFiniteLossError)
    try:
        return main()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        print(f"error: {_os_error_line(e)}", file=sys.stderr)
        raise SystemExit(2) from None
    except user_errors as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
