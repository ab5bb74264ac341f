"""Topic assignment: a record's own field, a topic classifier, or keywords.

The zero-shot option is deliberately simple: each topic is named with a
list of keywords (`"banks=bank,loan,credit;telecom=network,operator"`); a
text belongs to every topic one of whose keywords it contains as a whole
word (case-insensitive; a keyword may be a phrase), and to `other` when
none matches. A text in several topics is counted in each.
"""

import re

DEFAULT_TOPIC = "all"
UNMATCHED_TOPIC = "other"


def parse_topic_keywords(spec):
    """`"a=k1,k2;b=k3"` -> `{"a": ["k1", "k2"], "b": ["k3"]}`.

    Raises:
        ValueError: a part without `=`, an empty name or no keyword.
    """
    topics = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, sep, words = part.partition("=")
        keywords = [w.strip() for w in words.split(",") if w.strip()]
        if not sep or not name.strip() or not keywords:
            raise ValueError(f"--topic-keywords part {part!r}: expected "
                             "name=keyword,keyword")
        topics[name.strip()] = keywords
    if not topics:
        raise ValueError(f"--topic-keywords {spec!r}: no topic")
    return topics


class KeywordTopics:
    """Zero-shot topics from keyword lists.

    Args:
        topics: dict name -> list of str keywords.
    """

    def __init__(self, topics):
        self.patterns = {
            name: re.compile(r"\b(?:" + "|".join(
                re.escape(k) for k in keywords) + r")\b", re.IGNORECASE)
            for name, keywords in topics.items()}

    def __call__(self, texts):
        """list of str -> list of lists of topic names (never empty)."""
        return [[n for n, p in self.patterns.items() if p.search(t)]
                or [UNMATCHED_TOPIC] for t in texts]


class ModelTopics:
    """Topics from a classifier: the predicted label is the topic.

    Args:
        classify: callable list of str -> list of str labels (e.g. a
            `tfllm.apps.sentiment_monitor.SavedModelLabeler`).
    """

    def __init__(self, classify):
        self.classify = classify

    def __call__(self, texts):
        return [[label] for label in self.classify(texts)]


def assign_topics(records, assigner):
    """Topics of each record: its own `topic` field first.

    Args:
        records: list of `tfllm.monitoring.stream.Record`.
        assigner: callable (list of str -> list of lists of str) or None
            (records without a topic go to `all`).

    Returns:
        list of lists of str, one list per record.
    """
    missing = [i for i, r in enumerate(records) if r.topic is None]
    assigned = {}
    if missing and assigner is not None:
        assigned = dict(zip(missing, assigner(
            [records[i].text for i in missing])))
    return [[r.topic] if r.topic is not None
            else assigned.get(i, [DEFAULT_TOPIC])
            for i, r in enumerate(records)]
