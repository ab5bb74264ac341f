"""Reading prompt/response pairs (JSON Lines) for supervised fine-tuning."""

import dataclasses

from tfllm.data.bad_rows import BadRows
from tfllm.data.text_files import json_objects


@dataclasses.dataclass
class PromptResponse:
    """One supervised fine-tuning example.

    Attributes:
        prompt: str. What the user asks (the model is not trained on it).
        response: str. What the model should answer (the loss is on it).
        system: str or None. Optional system message for chat templates.
        path: str. The file it came from.
        line: int. 1-based line in that file.
    """

    prompt: str
    response: str
    system: str = None
    path: str = ""
    line: int = 0


def read_prompt_response_jsonl(path, prompt_key="prompt",
                               response_key="response", system_key="system",
                               encoding="utf-8", bad_rows=None):
    """Reads one `{"prompt": ..., "response": ...}` object per line.

    Blank lines are ignored. An optional `system_key` string is kept as the
    example's system message.

    Args:
        path: str or path of a `.jsonl` file.
        prompt_key, response_key, system_key: str. Keys of the fields.
        encoding: str. Text encoding of the file.
        bad_rows: `BadRows` or None (raise on the first bad line).

    Returns:
        list of `PromptResponse`.

    Raises:
        DataFormatError: (without skipping) a line that is not a JSON
            object, a missing key, a non-string or empty prompt or response,
            or an empty file; the message starts with `path:line:`.
        FileNotFoundError: no such file.
    """
    bad_rows = bad_rows or BadRows()
    examples = []
    for line, record in json_objects(path, encoding, bad_rows):
        problems = []
        for key in (prompt_key, response_key):
            value = record.get(key)
            if key not in record:
                problems.append(
                    f"no key {key!r}; the object has {sorted(record)}")
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"{key!r} must be a non-empty string, got "
                                f"{value!r}")
        system = record.get(system_key)
        if system is not None and not isinstance(system, str):
            problems.append(f"{system_key!r} must be a string, got {system!r}")
        if problems:
            bad_rows.report(path, line, "; ".join(problems))
            continue
        examples.append(PromptResponse(
            record[prompt_key], record[response_key], system, str(path),
            line))
    return examples
