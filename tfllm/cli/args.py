"""Command-line flags from dataclasses (argparse, standard library).

Each dataclass field becomes `--field-name`; its type, default and the
`help` entry of its metadata come from the field. Booleans are
`--flag/--no-flag` pairs (`argparse.BooleanOptionalAction`).
"""

import argparse
import dataclasses
import sys
import typing

from tfllm.config import help_field  # noqa: F401  (re-exported)


def _field_type(field):
    kind = field.type
    if isinstance(kind, str):
        kind = eval(kind, {"typing": typing, "Optional": typing.Optional})
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args else kind


def add_dataclass_arguments(parser, cls):
    """Adds one flag per field of dataclass `cls` to `parser`."""
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        kind = _field_type(field)
        default = field.default
        help_text = field.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(
                flag, dest=field.name, default=default, help=help_text,
                action=argparse.BooleanOptionalAction,
            )
        else:
            parser.add_argument(
                flag, dest=field.name, type=kind, default=default,
                help=f"{help_text} (default: {default})",
            )


def parse_dataclasses(classes, argv=None, description=None):
    """Parses `argv` into one instance of each dataclass in `classes`.

    Raises:
        SystemExit: unknown or malformed flags (argparse's usage error).
    """
    parser = argparse.ArgumentParser(description=description)
    for cls in classes:
        add_dataclass_arguments(parser, cls)
    namespace = vars(parser.parse_args(argv))
    return [
        cls(**{f.name: namespace[f.name] for f in dataclasses.fields(cls)})
        for cls in classes
    ]


def run_cli(main):
    """Runs a command's `main`; user errors end it with one line, exit 2.

    Bad input files, settings the user must change (`UserInputError`),
    missing data or checkpoints, an unavailable backbone and a diverging
    loss are the user's to fix: they are printed as
    `error: <message>` (the message names file and line where there is one)
    without a Python traceback. Anything else propagates unchanged.
    """
    from tfllm.backbones import BackboneNotAvailableError
    from tfllm.data.errors import DataFormatError
    from tfllm.data.errors import UserInputError
    from tfllm.training.callbacks import NonFiniteLossError

    user_errors = (DataFormatError, UserInputError, FileNotFoundError,
                   BackboneNotAvailableError, NonFiniteLossError)
    try:
        return main()
    except user_errors as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
