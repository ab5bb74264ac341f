"""The FAQ assistant's data: where the FAQ and its validation queries come
from (`FaqData`, `load_faq`), the sentence encoder settings
(`EncoderArgs`), the answer templates shipped with tfllm
(`DEFAULT_ANSWERS`) and top-1 retrieval accuracy (`retrieval_accuracy`).

Used by `tfllm faq` (`tfllm.cli.faq_assistant`), the contrastive training
run (`tfllm.runs.faq`) and the evaluation (`tfllm.apps.faq_evaluation`).
"""

import dataclasses
import pathlib
from typing import Optional

import numpy as np

from tfllm.config import help_field as _help
from tfllm.data.errors import UserInputError
from tfllm.data.splits import stratified_split
from tfllm.data.text_files import read_text_file

DEFAULT_ANSWERS = {
    "banking77": pathlib.Path(__file__).resolve().parent / "data"
    / "banking77_answers.json"}


@dataclasses.dataclass
class FaqData:
    """Where the FAQ and the validation queries come from."""

    dataset: Optional[str] = _help(
        "banking77: FAQ = training utterances with tfllm's answer templates "
        "(tfllm/apps/data/banking77_answers.json)")
    data_dir: Optional[str] = _help("the dataset's folder")
    faq_file: Optional[str] = _help(
        "FAQ file (CSV/TSV/JSONL): question/answer, or utterance/intent "
        "with --answers-file")
    answers_file: Optional[str] = _help(
        "intent -> answer template (.json object, or CSV/TSV/JSONL with "
        "intent and answer columns)")
    queries_file: Optional[str] = _help(
        "labelled validation queries (question and intent columns); None: "
        "carved from the FAQ")
    question_column: str = "question"
    answer_column: str = "answer"
    intent_column: str = "intent"
    validation_fraction: float = 0.1
    split_seed: int = _help(
        "seed of the carved split (train_classifier carves with its --seed,"
        " default 42)", 42)


@dataclasses.dataclass
class EncoderArgs:
    """The sentence encoder."""

    backbone: str = _help(
        "the sentence encoder: a backbone name ('minilm') or a "
        "`tfllm faq train` run folder", "minilm", aliases=["--encoder"])
    max_length: int = _help("longest sequence in sub-tokens", 64)


def load_faq(data):
    """`(faq_entries, queries)`: the FAQ and labelled `(text, intent)`s.

    Args:
        data: `FaqData`.

    Returns:
        `(entries, queries)`: the FAQ entries to index (the carved
        validation queries left out) and a list of `(text, intent)`.

    Raises:
        UserInputError: neither `dataset` nor `faq_file` given, or a
            dataset without default answers and no `answers_file`.
        DataFormatError: a malformed FAQ, answers or queries file.
    """
    from tfllm.data.classification_datasets import (
        load_classification_dataset)
    from tfllm.retrieval.faq_files import entries_with_answers
    from tfllm.retrieval.faq_files import read_answers
    from tfllm.retrieval.faq_files import read_faq

    if data.dataset:
        examples = load_classification_dataset(
            data.dataset, data.data_dir)["train"]
        answers_file = data.answers_file or DEFAULT_ANSWERS.get(data.dataset)
        if answers_file is None:
            raise UserInputError(
                f"--dataset {data.dataset}: give --answers-file")
        entries = entries_with_answers(examples, read_answers(answers_file),
                                       str(answers_file))
    elif data.faq_file:
        entries = read_faq(data.faq_file, None, data.question_column,
                           data.answer_column, data.intent_column,
                           data.answers_file)
    else:
        raise UserInputError("give --dataset banking77 or --faq-file FILE")
    if data.queries_file:
        rows = read_text_file(data.queries_file, None, data.question_column,
                              data.intent_column)
        return entries, [(r.text, r.label) for r in rows]
    train, validation = stratified_split(
        [e.intent for e in entries], data.validation_fraction, data.split_seed)
    print(f"carved {len(validation)} validation queries from "
          f"{len(entries)} FAQ entries (stratified, fraction "
          f"{data.validation_fraction}, seed {data.split_seed})")
    queries = [(entries[i].question, entries[i].intent) for i in validation]
    return [entries[i] for i in train], queries


def retrieval_accuracy(encoder, entries, queries, model_name="encoder"):
    """Top-1 intent accuracy of retrieval (the nearest entry's intent).

    Args:
        encoder: a sentence encoder (`tfllm.retrieval.embedding`).
        entries: FAQ entries to index.
        queries: list of `(text, intent)`.
        model_name: str. The encoder's name recorded in the index.

    Returns:
        float in [0, 1].
    """
    from tfllm.apps.customer_service import build_index
    from tfllm.retrieval.embedding import embed_texts

    index = build_index(encoder, entries, model_name)
    _, ids = index.search(embed_texts(encoder, [q for q, _ in queries]), 1)
    predicted = [entries[i].intent for i in ids[:, 0]]
    return float(np.mean([p == g for p, (_, g) in zip(predicted, queries)]))
