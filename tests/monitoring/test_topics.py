"""Topic assignment: record field first, then keywords or a model."""

import pytest

from tfllm.monitoring.stream import Record
from tfllm.monitoring.topics import KeywordTopics
from tfllm.monitoring.topics import ModelTopics
from tfllm.monitoring.topics import assign_topics
from tfllm.monitoring.topics import parse_topic_keywords


def _record(text, topic=None):
    return Record(0.0, text, topic, "s", 1, {})


def test_keywords_whole_words_several_topics_and_other():
    topics = parse_topic_keywords("banks=bank, loan;telecom=network;"
                                  "ratings=credit rating")
    assert topics == {"banks": ["bank", "loan"], "telecom": ["network"],
                      "ratings": ["credit rating"]}
    assign = KeywordTopics(topics)
    assert assign(["The BANK cut its network costs", "bankruptcy filed",
                   "A new credit rating", "Loans grew"]) == [
        ["banks", "telecom"], ["other"], ["ratings"], ["other"]]
    with pytest.raises(ValueError, match="name=keyword"):
        parse_topic_keywords("banks")


def test_record_topic_wins_then_assigner_then_all():
    records = [_record("bank news", "given"), _record("bank news")]
    keywords = KeywordTopics({"banks": ["bank"]})
    assert assign_topics(records, keywords) == [["given"], ["banks"]]
    assert assign_topics(records, None) == [["given"], ["all"]]
    model = ModelTopics(lambda texts: [t.split()[0] for t in texts])
    assert assign_topics(records, model) == [["given"], ["bank"]]
