"""Training-set augmentation (issue 29, fine-tuning strategies): mention
replacement and the other Dai & Adel (2020) operations keep IOB2 tags
aligned with words; EDA keeps labels; both are seeded."""

import random

import pytest

from tfllm.data.augmentation import augment_examples
from tfllm.data.augmentation import augment_sentences
from tfllm.data.augmentation import eda_words
from tfllm.data.augmentation import entity_mentions
from tfllm.data.augmentation import label_segments
from tfllm.data.augmentation import replace_mentions
from tfllm.data.augmentation import split_text
from tfllm.data.conll import TaggedSentence
from tfllm.data.text_files import TextExample

ENGLISH = [
    TaggedSentence("Anna Kowalski visited Lyon .".split(),
                   ["B-PER", "I-PER", "O", "B-LOC", "O"], "train.txt", 1),
    TaggedSentence("Zorbex hires Bob in New York City".split(),
                   ["B-ORG", "O", "B-PER", "O", "B-LOC", "I-LOC", "I-LOC"],
                   "train.txt", 7),
    TaggedSentence(["again", "."], ["O", "O"], "train.txt", 15),
]
# CLUENER2020 / Weibo NER style: one "word" per character.
CHINESE = [
    TaggedSentence(list("张三在北京工作"),
                   ["B-name", "I-name", "O", "B-address", "I-address", "O",
                    "O"]),
    TaggedSentence(list("李小龙去上海浦东"),
                   ["B-name", "I-name", "I-name", "O", "B-address",
                    "I-address", "I-address", "I-address"]),
]


def _valid_iob2(tags):
    return all(t == "O" or t.startswith("B-") or (
        t.startswith("I-") and i and tags[i - 1][2:] == t[2:]
        and tags[i - 1] != "O") for i, t in enumerate(tags))


def test_mentions_and_segments_by_hand():
    tags = ["B-PER", "I-PER", "O", "O", "I-LOC", "B-LOC", "I-LOC"]
    # A stray I-LOC starts a mention (seqeval's default reading).
    assert entity_mentions(tags) == [(0, 2, "PER"), (4, 5, "LOC"),
                                     (5, 7, "LOC")]
    assert label_segments(tags) == [(0, 2), (2, 4), (4, 5), (5, 7)]


def test_mention_replacement_rewrites_tags_for_new_lengths():
    pool = {"LOC": [("New", "York", "City")], "PER": [("Bob",)]}
    words, tags = replace_mentions(ENGLISH[0].words, ENGLISH[0].tags, pool,
                                   1.0, random.Random(0))
    assert words == ["Bob", "visited", "New", "York", "City", "."]
    assert tags == ["B-PER", "O", "B-LOC", "I-LOC", "I-LOC", "O"]
    # prob 0: nothing changes.
    assert replace_mentions(ENGLISH[0].words, ENGLISH[0].tags, pool, 0.0,
                            random.Random(0)) == (ENGLISH[0].words,
                                                  ENGLISH[0].tags)


@pytest.mark.parametrize("sentences", [ENGLISH, CHINESE])
def test_mention_replacement_keeps_iob2_and_types(sentences, capsys):
    out = augment_sentences(sentences, "mention_replacement", copies=3,
                            prob=0.8, seed=7)
    added = out[len(sentences):]
    assert out[:len(sentences)] == sentences and added
    assert f"added {len(added)} training sentences" in capsys.readouterr().out
    training = {(kind, tuple(s.words[a:b])) for s in sentences
                for a, b, kind in entity_mentions(s.tags)}
    for sentence in added:
        assert len(sentence.words) == len(sentence.tags)
        assert _valid_iob2(sentence.tags)
        for start, end, kind in entity_mentions(sentence.tags):
            # Each mention is a training mention of the same type.
            assert (kind, tuple(sentence.words[start:end])) in training
    assert augment_sentences(sentences, "mention_replacement", 3, 0.8,
                             seed=7, verbose=False) == out
    assert augment_sentences(sentences, "mention_replacement", 3, 0.8,
                             seed=8, verbose=False) != out


def test_token_replacement_and_shuffle_keep_tags():
    out = augment_sentences(
        ENGLISH, "label_wise_token_replacement,shuffle_within_segments",
        copies=2, prob=1.0, seed=0, verbose=False)
    by_tag = {}
    for s in ENGLISH:
        for w, t in zip(s.words, s.tags):
            by_tag.setdefault(t, set()).add(w)
    sources = {(s.path, s.line): s for s in ENGLISH}
    for sentence in out[len(ENGLISH):]:
        source = sources[(sentence.path, sentence.line)]
        assert sentence.tags == source.tags
        assert all(w in by_tag[t] for w, t in zip(sentence.words,
                                                  sentence.tags))
    shuffled = [s for s in out[len(ENGLISH):] if sorted(s.words) == sorted(
        sources[(s.path, s.line)].words)]
    assert shuffled  # shuffle within segments keeps each segment's words


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="augment 'synonyms'"):
        augment_sentences(ENGLISH, "synonyms")
    with pytest.raises(ValueError, match="augment_prob"):
        augment_sentences(ENGLISH, prob=1.5)
    bad = [TaggedSentence(["x"], ["PER"], "train.txt", 3)]
    with pytest.raises(ValueError, match="train.txt:3"):
        augment_sentences(bad)
    assert augment_sentences(ENGLISH, "none") == ENGLISH


def test_eda_operations_by_hand():
    words = "a b c d e f g h i j".split()
    assert len(eda_words(words, "insert", 0.2, random.Random(0))) == 12
    swapped = eda_words(words, "swap", 0.1, random.Random(0))
    assert sorted(swapped) == words and swapped != words
    assert sum(a != b for a, b in zip(swapped, words)) == 2
    assert eda_words(words, "delete", 1.0, random.Random(0)) in [[w] for w
                                                                  in words]
    assert split_text("我爱北京天安门")[1] == ""  # jieba words, joined by ""
    assert split_text("great movie")[0] == ["great", "movie"]


def test_eda_keeps_labels_and_is_seeded(capsys):
    examples = [TextExample("the great movie was great", "positive"),
                TextExample("awful plot and awful actors", "negative"),
                TextExample("这部电影非常好看我很喜欢", ["topic"], "x")]
    out = augment_examples(examples, "eda", copies=2, prob=0.3, seed=1)
    assert "added" in capsys.readouterr().out
    assert out[:3] == examples and len(out) > 3
    for example in out[3:]:
        source = next(e for e in examples if e.text_pair == example.text_pair
                      and e.label == example.label)
        assert example.text != source.text
        assert example.label == source.label
    assert augment_examples(examples, "eda", 2, 0.3, seed=1,
                            verbose=False) == out


def test_token_classifier_fit_augments_the_training_split_only():
    """`fit(augment=...)` hands the augmented training sentences (seeded by
    the training seed) and the unchanged validation sentences on to the
    training loop (replaced here, to keep the test fast)."""
    from tfllm.models.token_classifier_api import TokenClassifierAPI

    class Model(TokenClassifierAPI):
        def _fit_sentences(self, train, validation, config, run_dir,
                           label_all_tokens):
            return train, validation

    pairs = [(s.words, s.tags) for s in ENGLISH]
    train, validation = Model().fit(
        pairs, validation_data=pairs[:1], augment="mention_replacement",
        augment_prob=1.0, seed=5)
    ours = [(s.words, s.tags) for s in train]
    expected = augment_sentences(ENGLISH, "mention_replacement", prob=1.0,
                                 seed=5, verbose=False)
    assert ours == [(s.words, s.tags) for s in expected]
    assert len(train) > len(ENGLISH)
    assert [(s.words, s.tags) for s in validation] == [pairs[0]]
