"""Settings dataclasses: fields with help texts, shared by the Python API
and the command line (`tfllm.cli.args` turns each field into a flag)."""

import dataclasses


def help_field(text, default=None):
    """A dataclass field with a default and its `--help` text.

    Args:
        text: str. The flag's help text.
        default: the flag's default value. Default None.

    Returns:
        `dataclasses.Field` with `metadata={"help": text}`.
    """
    return dataclasses.field(default=default, metadata={"help": text})
