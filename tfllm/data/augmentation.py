"""Training-data augmentation for NER and text classification, seeded.

NER (IOB2-tagged sentences, word-level such as CoNLL-2003 or one "word" per
character such as CLUENER2020 and Weibo NER), from Dai & Adel (2020):

- `mention_replacement`: each entity mention is, with probability `prob`,
  replaced by another mention of the same type drawn from the training
  set; the tags are rewritten (`B-X` on the first word, `I-X` on the rest),
  so the sentence may grow or shrink.
- `label_wise_token_replacement`: each word is, with probability `prob`,
  replaced by a word drawn from the training words with the same tag
  (frequency-weighted); tags unchanged.
- `shuffle_within_segments`: the sentence is cut into segments of one
  label (each mention, each run of `O` words); each segment's words are,
  with probability `prob`, shuffled; tags unchanged.

Text classification, EDA (Wei & Zou 2019) without its synonym operations
(they need WordNet): random swap, random deletion and random insertion of
a word taken from the same text. English text is split on whitespace,
Chinese text into jieba words. Labels are unchanged.

Augmentation is applied to the training split only (`TokenClassifier.fit`
and `TextClassifier.fit` call it after the validation split is set
aside), draws from `random.Random(seed)`, so the same seed gives the same
data, and keeps only copies that differ from their source sentence.

References:
    Dai, Adel (2020), "An Analysis of Simple Data Augmentation for Named
    Entity Recognition", COLING.
    Wei, Zou (2019), "EDA: Easy Data Augmentation Techniques for Boosting
    Performance on Text Classification Tasks", EMNLP-IJCNLP.
"""

import dataclasses
import random
import re

from tfllm.data.tagging import split_tag

NER_AUGMENTATIONS = ("none", "mention_replacement",
                     "label_wise_token_replacement",
                     "shuffle_within_segments")
TEXT_AUGMENTATIONS = ("none", "eda")
EDA_OPERATIONS = ("swap", "delete", "insert")
_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")


def parse_methods(augment, known):
    """The list of methods named by `augment` (comma-separated).

    Args:
        augment: str or None. `"none"`, one method or several joined by
            commas (`"mention_replacement,shuffle_within_segments"`).
        known: tuple of str. The accepted names (`NER_AUGMENTATIONS` or
            `TEXT_AUGMENTATIONS`).

    Returns:
        list of str, empty for None or `"none"`.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    names = [n.strip() for n in (augment or "none").split(",") if n.strip()]
    for name in names:
        if name not in known:
            raise ValueError(f"augment {name!r}: expected one of {known} "
                             "(several joined by commas)")
    return [n for n in names if n != "none"]


def _check(copies, prob):
    if int(copies) != copies or copies < 1:
        raise ValueError(f"augment_copies must be an integer >= 1, not "
                         f"{copies!r}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"augment_prob must be in [0, 1], not {prob!r}")


# === NER ===

def entity_mentions(tags):
    """The entity mentions of one IOB2 tag sequence.

    An `I-X` that does not continue a mention of type X starts one (as
    seqeval's default mode reads it).

    Args:
        tags: list of str, IOB2 tags.

    Returns:
        list of `(start, end, type)`, word indices, end exclusive.

    Raises:
        ValueError: a tag that is neither `O` nor `B-X`/`I-X`.
    """
    mentions = []
    for i, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        continues = (mentions and mentions[-1][1] == i
                     and mentions[-1][2] == kind)
        if prefix == "B" or (prefix == "I" and not continues):
            mentions.append([i, i + 1, kind])
        elif prefix == "I":
            mentions[-1][1] = i + 1
    return [tuple(m) for m in mentions]


def label_segments(tags):
    """Segments of one label: each mention, and each run of `O` words.

    Returns:
        list of `(start, end)` covering `range(len(tags))` in order.
    """
    starts = {start: end for start, end, _ in entity_mentions(tags)}
    segments, i = [], 0
    while i < len(tags):
        if i in starts:
            end = starts[i]
        else:
            end = i + 1
            while end < len(tags) and end not in starts:
                end += 1
        segments.append((i, end))
        i = end
    return segments


def _mention_pool(sentences):
    pool = {}
    for sentence in sentences:
        for start, end, kind in entity_mentions(sentence.tags):
            pool.setdefault(kind, []).append(
                tuple(sentence.words[start:end]))
    return pool


def _token_pool(sentences):
    pool = {}
    for sentence in sentences:
        for word, tag in zip(sentence.words, sentence.tags):
            pool.setdefault(tag, []).append(word)
    return pool


def replace_mentions(words, tags, pool, prob, rng):
    """Mention replacement on one sentence (Dai & Adel 2020).

    Args:
        words: list of str.
        tags: list of str, IOB2, as long as `words`.
        pool: dict type -> list of word tuples (the training mentions).
        prob: float. Probability that each mention is replaced.
        rng: `random.Random`.

    Returns:
        `(words, tags)`: new lists; replaced mentions carry `B-X` on their
        first word and `I-X` on the rest.
    """
    new_words, new_tags, last = [], [], 0
    for start, end, kind in entity_mentions(tags):
        new_words += words[last:start]
        new_tags += tags[last:start]
        mention = list(words[start:end])
        if rng.random() < prob and pool.get(kind):
            mention = list(rng.choice(pool[kind]))
        new_words += mention
        new_tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(mention) - 1)
        last = end
    return new_words + list(words[last:]), new_tags + list(tags[last:])


def replace_tokens(words, tags, pool, prob, rng):
    """Label-wise token replacement on one sentence (Dai & Adel 2020):
    each word, with probability `prob`, becomes a training word of the
    same tag. Returns `(words, tags)`, tags unchanged."""
    new_words = [rng.choice(pool[tag]) if rng.random() < prob else word
                 for word, tag in zip(words, tags)]
    return new_words, list(tags)


def shuffle_segments(words, tags, prob, rng):
    """Shuffle within segments on one sentence (Dai & Adel 2020): each
    one-label segment's words are, with probability `prob`, shuffled.
    Returns `(words, tags)`, tags unchanged."""
    new_words = list(words)
    for start, end in label_segments(tags):
        if end - start > 1 and rng.random() < prob:
            segment = new_words[start:end]
            rng.shuffle(segment)
            new_words[start:end] = segment
    return new_words, list(tags)


def augment_sentences(sentences, augment="mention_replacement", copies=1,
                      prob=0.3, seed=42, verbose=True):
    """The training sentences followed by their augmented copies.

    For each method in `augment` and each of `copies` rounds, every
    sentence is augmented once; a copy equal to its source is dropped.
    Mentions and words are drawn from `sentences` themselves (the training
    split).

    Args:
        sentences: list of `tfllm.data.conll.TaggedSentence` (IOB2 tags,
            one per word; Chinese datasets: one character per word).
        augment: str. `"none"`, a name of `NER_AUGMENTATIONS` or several
            joined by commas. Default `"mention_replacement"`.
        copies: int >= 1. Augmented copies per sentence and method.
            Default 1.
        prob: float in [0, 1]. Per-mention (mention replacement),
            per-word (token replacement) or per-segment (shuffle)
            probability. Default 0.3.
        seed: int. Seeds `random.Random`; the same seed gives the same
            output. Default 42.
        verbose: bool. Print the number of added sentences.

    Returns:
        list of `TaggedSentence`: `sentences` unchanged, then the added
        copies (each keeps its source's `path` and `line`).

    Raises:
        ValueError: an unknown method, `copies` < 1, `prob` outside [0, 1],
            or a tag that is not IOB2 (naming the file and line, or the
            sentence's position).
    """
    methods = parse_methods(augment, NER_AUGMENTATIONS)
    _check(copies, prob)
    if not methods:
        return list(sentences)
    for i, sentence in enumerate(sentences, 1):
        try:
            entity_mentions(sentence.tags)
        except ValueError as error:
            where = (f"{sentence.path}:{sentence.line}" if sentence.path
                     else f"training sentence {i}")
            raise ValueError(f"{where}: {error}") from None
    rng = random.Random(seed)
    mentions, tokens = _mention_pool(sentences), _token_pool(sentences)
    added = []
    for method in methods:
        for _ in range(copies):
            for sentence in sentences:
                words, tags = list(sentence.words), list(sentence.tags)
                if method == "mention_replacement":
                    words, tags = replace_mentions(words, tags, mentions,
                                                   prob, rng)
                elif method == "label_wise_token_replacement":
                    words, tags = replace_tokens(words, tags, tokens, prob,
                                                 rng)
                else:
                    words, tags = shuffle_segments(words, tags, prob, rng)
                if words != sentence.words or tags != sentence.tags:
                    added.append(dataclasses.replace(
                        sentence, words=words, tags=tags))
    if verbose:
        print(f"augmentation {','.join(methods)} (copies {copies}, prob "
              f"{prob}, seed {seed}): added {len(added)} training sentences "
              f"to {len(sentences)}")
    return list(sentences) + added


# === Text classification (EDA) ===

def split_text(text):
    """Words for EDA and the string that joins them back.

    Returns:
        `(words, joiner)`: jieba words and `""` for text with CJK
        characters, else the whitespace-separated words and `" "`.
    """
    if _CJK.search(text):
        import jieba

        return [w for w in jieba.lcut(text) if w], ""
    return text.split(), " "


def eda_words(words, operation, prob, rng):
    """One EDA operation on a word list (Wei & Zou 2019).

    `n = max(1, int(prob * len(words)))` changes: `"swap"` swaps two
    random words n times; `"insert"` inserts a random word of the text at a
    random place n times (EDA inserts a synonym; no thesaurus is needed
    here); `"delete"` drops each word with probability `prob`, keeping one
    if all would go.

    Args:
        words: list of str.
        operation: str. One of `EDA_OPERATIONS`.
        prob: float. EDA's alpha.
        rng: `random.Random`.

    Returns:
        list of str (a new list).
    """
    words = list(words)
    if not words:
        return words
    n = max(1, int(prob * len(words)))
    if operation == "swap":
        for _ in range(n if len(words) > 1 else 0):
            i, j = rng.sample(range(len(words)), 2)
            words[i], words[j] = words[j], words[i]
    elif operation == "insert":
        for _ in range(n):
            words.insert(rng.randint(0, len(words)), rng.choice(words))
    elif operation == "delete":
        kept = [w for w in words if rng.random() >= prob]
        words = kept or [rng.choice(words)]
    else:
        raise ValueError(f"EDA operation {operation!r}: expected one of "
                         f"{EDA_OPERATIONS}")
    return words


def eda_text(text, operation, prob, rng):
    """`eda_words` on a text split by `split_text`, joined back."""
    words, joiner = split_text(text)
    return joiner.join(eda_words(words, operation, prob, rng))


def augment_examples(examples, augment="eda", copies=1, prob=0.1, seed=42,
                     verbose=True):
    """The training examples followed by their EDA copies.

    Each copy of each example gets one operation drawn uniformly from
    `EDA_OPERATIONS`; a copy equal to its source is dropped. Pair models
    augment the first text only; labels (single or multi-label) are kept.

    Args:
        examples: list of `tfllm.data.text_files.TextExample`.
        augment: str. `"none"` or `"eda"`. Default `"eda"`.
        copies: int >= 1. Augmented copies per example. Default 1.
        prob: float in [0, 1]. EDA's alpha: the share of words changed.
            Default 0.1 (Wei & Zou's recommendation for most data sizes).
        seed: int. Seeds `random.Random`. Default 42.
        verbose: bool. Print the number of added examples.

    Returns:
        list of `TextExample`: `examples`, then the added copies.

    Raises:
        ValueError: an unknown method, `copies` < 1 or `prob` outside
            [0, 1].
    """
    methods = parse_methods(augment, TEXT_AUGMENTATIONS)
    _check(copies, prob)
    if not methods:
        return list(examples)
    rng = random.Random(seed)
    added = []
    for _ in range(copies):
        for example in examples:
            text = eda_text(example.text, rng.choice(EDA_OPERATIONS), prob,
                            rng)
            if text != example.text:
                added.append(dataclasses.replace(example, text=text))
    if verbose:
        print(f"augmentation eda (copies {copies}, prob {prob}, seed "
              f"{seed}): added {len(added)} training examples to "
              f"{len(examples)}")
    return list(examples) + added
