import json

import pytest

from tfllm.data.errors import DataFormatError
from tfllm.retrieval.faq_files import read_answers
from tfllm.retrieval.faq_files import read_faq


def test_question_answer_csv(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text('question,answer\n"Where, is my card?",It is posted.\n'
                    "Lost card,Freeze it.\nCard not here,It is posted.\n")
    entries = read_faq(path)
    assert [(e.question, e.intent, e.answer) for e in entries] == [
        ("Where, is my card?", "It is posted.", "It is posted."),
        ("Lost card", "Freeze it.", "Freeze it."),
        ("Card not here", "It is posted.", "It is posted.")]


def test_utterance_intent_with_answers(tmp_path):
    faq = tmp_path / "faq.jsonl"
    faq.write_text('{"question": "lost my card", "intent": "lost"}\n'
                   '{"question": "card stolen", "intent": "lost"}\n')
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"lost": "Freeze it.", "x": "y"}))
    entries = read_faq(faq, answers_file=answers)
    assert [e.answer for e in entries] == ["Freeze it.", "Freeze it."]


def test_missing_answer_names_file_and_line(tmp_path):
    faq = tmp_path / "faq.tsv"
    faq.write_text("question\tintent\nlost my card\tlost\nfee?\tfees\n")
    answers = tmp_path / "answers.tsv"
    answers.write_text("intent\tanswer\nlost\tFreeze it.\n")
    with pytest.raises(DataFormatError, match=r"faq.tsv:3: intent 'fees' "
                       r"has no answer template"):
        read_faq(faq, answers_file=answers)


def test_bad_answer_files(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('["not", "an object"]')
    with pytest.raises(DataFormatError, match="JSON object"):
        read_answers(path)
    path = tmp_path / "a.csv"
    path.write_text("intent,answer\nx,one\nx,two\n")
    with pytest.raises(DataFormatError, match="a.csv:3: intent 'x'"):
        read_answers(path)
