"""Errors raised by tfllm's data readers."""


class DataFormatError(ValueError):
    """A data file does not have the expected format.

    The message always starts with `path:line:` (1-based line numbers) so a
    user can jump to the offending line, and says what was expected there.

    Args:
        path: str. The file that was being read.
        line: int or None. 1-based line number, or None for whole-file
            problems (empty file, wrong encoding).
        message: str. What was found and what was expected.

    Attributes:
        path, line: as given.
        reason: str. `message` without the `path:line:` prefix (readers
            that route a row to `BadRows` pass it on).
    """

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class UserInputError(ValueError):
    """Settings or inputs the user must change (not a file's format).

    Command-line tools (`tfllm.cli.args.run_cli`) print its message as one
    `error:` line instead of a traceback: e.g. a validation fraction that
    leaves no validation example, or a restart with settings that differ
    from the saved state's.
    """
