"""FAQ files: question/answer pairs, or utterances with intents + answers.

Two layouts are read (CSV, TSV or JSON lines, through
`tfllm.data.text_files.read_text_file`):

1. question/answer: one row per question with its answer. Questions that
   share an answer form one FAQ group (their `intent` is the answer).
2. utterance/intent plus an answer-template file: one row per example
   utterance with its intent, and an answers file mapping each intent to
   one answer template (a JSON object `{"intent": "answer", ...}`, or a
   CSV/TSV/JSON-lines file with `intent` and `answer` columns). Every
   intent of the FAQ must have an answer; the error names the file and
   line of the first row without one.
"""

import dataclasses
import json
import pathlib

from tfllm.data.errors import DataFormatError
from tfllm.data.text_files import read_text_file


@dataclasses.dataclass
class FaqEntry:
    """One indexed question: its text, FAQ group and answer."""

    question: str
    intent: str
    answer: str

    def to_payload(self):
        return dataclasses.asdict(self)


def read_answers(path, intent_column="intent", answer_column="answer"):
    """Reads an answer-template file: `{intent: answer}`.

    Args:
        path: str or path. A `.json` object, or a CSV/TSV/JSON-lines file
            with `intent_column` and `answer_column`.

    Returns:
        dict str -> str.

    Raises:
        DataFormatError: not a JSON object of strings, an empty answer or a
            repeated intent (the message names file and line).
    """
    path = pathlib.Path(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataFormatError(path, e.lineno, f"not JSON: {e.msg}")
        if not isinstance(data, dict) or not all(
                isinstance(v, str) and v.strip() for v in data.values()):
            raise DataFormatError(path, None, "expected a JSON object "
                                  "mapping each intent to a non-empty "
                                  "answer string")
        return dict(data)
    answers = {}
    for row in read_text_file(path, text_column=answer_column,
                              label_column=intent_column):
        if row.label in answers:
            raise DataFormatError(path, row.line,
                                  f"intent {row.label!r} has a second answer")
        answers[row.label] = row.text
    return answers


def read_faq(path, file_format=None, question_column="question",
             answer_column="answer", intent_column="intent",
             answers_file=None, delimiter=None):
    """Reads an FAQ file into entries (module docstring for the layouts).

    Args:
        path: str or path. CSV, TSV or JSON lines (format from the suffix
            unless `file_format` is given).
        question_column: str. The question (or utterance) column.
        answer_column: str. The answer column (layout 1).
        intent_column: str. The intent column (layout 2).
        answers_file: str, path or None. None: layout 1; else layout 2 with
            this answer-template file (`read_answers`).
        delimiter: str or None. Overrides the CSV/TSV separator.

    Returns:
        list of `FaqEntry` in file order.

    Raises:
        DataFormatError: a missing column, an empty field, or an intent
            without an answer template (file and line named).
    """
    if answers_file is None:
        rows = read_text_file(path, file_format, question_column,
                              answer_column, delimiter=delimiter)
        return [FaqEntry(r.text, r.label, r.label) for r in rows]
    answers = read_answers(answers_file)
    rows = read_text_file(path, file_format, question_column, intent_column,
                          delimiter=delimiter)
    return entries_with_answers(rows, answers, answers_file)


def entries_with_answers(examples, answers, answers_file="answers"):
    """`FaqEntry`s from labelled examples and an intent -> answer map.

    Args:
        examples: list of `tfllm.data.text_files.TextExample` (text =
            utterance, label = intent).
        answers: dict str -> str.
        answers_file: str. Named in the error.

    Raises:
        DataFormatError: an example's intent has no answer (the example's
            file and line are named).
    """
    entries = []
    for row in examples:
        if row.label not in answers:
            raise DataFormatError(
                row.path or answers_file, row.line or None,
                f"intent {row.label!r} has no answer template in "
                f"{answers_file}")
        entries.append(FaqEntry(row.text, row.label, answers[row.label]))
    return entries
