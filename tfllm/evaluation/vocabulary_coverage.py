"""How much of a dataset a tokenizer's vocabulary covers (unknown tokens).

An encoder whose WordPiece vocabulary lacks a character sees `[UNK]` for
it: the English MiniLM vocabulary (BERT uncased, 30,522 entries) holds only
part of the CJK characters, so on Chinese text the unknown-token rate says
how much of the input the model cannot tell apart.
"""

import collections

import tensorflow as tf

from tfllm.preprocessing.token_classification_preprocessor import (
    unknown_token_id,
)
from tfllm.preprocessing.word_splitter import CJK_RANGES


def _is_cjk(word):
    return len(word) == 1 and any(
        low <= ord(word) <= high for low, high in CJK_RANGES)


def unknown_token_rate(preprocessor, sentences, top=20):
    """Counts the sub-tokens and words that become the unknown token.

    Words are tokenized exactly as for training (the preprocessor's
    per-word sub-tokens; a word without sub-tokens counts as one `[UNK]`).

    Args:
        preprocessor: `TokenClassificationPreprocessor`.
        sentences: list of lists of str (words).
        top: int. How many of the most frequent unknown words to list.

    Returns:
        dict: `subtokens`, `unknown_subtokens`, `subtoken_unknown_rate`
        (unknown / all sub-tokens, special tokens excluded); `words`,
        `unknown_words`, `word_unknown_rate` (words with an unknown
        sub-token); `cjk_characters`, `unknown_cjk_characters`,
        `cjk_unknown_rate` (single-CJK-character words);
        `distinct_unknown_words` and `most_frequent_unknown`
        (`[[word, count], ...]`).
    """
    counts = collections.Counter(w for words in sentences for w in words)
    vocabulary = sorted(counts)
    tokenizer = preprocessor.tokenizer
    oov = unknown_token_id(tokenizer)
    pieces = preprocessor._word_pieces(tf.constant(vocabulary or [""]))
    pieces = pieces.to_list()[:len(vocabulary)]
    totals = collections.Counter()
    unknown = collections.Counter()
    for word, ids in zip(vocabulary, pieces):
        n = counts[word]
        unknown_pieces = sum(1 for i in ids if i == oov)
        totals["subtokens"] += n * len(ids)
        totals["unknown_subtokens"] += n * unknown_pieces
        totals["words"] += n
        cjk = _is_cjk(word)
        totals["cjk_characters"] += n if cjk else 0
        if unknown_pieces:
            unknown[word] = n
            totals["unknown_words"] += n
            totals["unknown_cjk_characters"] += n if cjk else 0

    def rate(part, whole):
        return totals[part] / totals[whole] if totals[whole] else 0.0

    return {
        "subtokens": totals["subtokens"],
        "unknown_subtokens": totals["unknown_subtokens"],
        "subtoken_unknown_rate": rate("unknown_subtokens", "subtokens"),
        "words": totals["words"],
        "unknown_words": totals["unknown_words"],
        "word_unknown_rate": rate("unknown_words", "words"),
        "cjk_characters": totals["cjk_characters"],
        "unknown_cjk_characters": totals["unknown_cjk_characters"],
        "cjk_unknown_rate": rate("unknown_cjk_characters", "cjk_characters"),
        "distinct_unknown_words": len(unknown),
        "most_frequent_unknown": [list(x) for x in unknown.most_common(top)],
    }


# The command with the best Chinese NER figure (BENCHMARKS.md, "Chinese
# NER"); the unknown-token report points to it.
CHINESE_NER_COMMAND = (
    "python scripts/train_ner.py --dataset cluener2020 "
    "--backbone multilingual-e5-small --head crf --head-learning-rate 1e-3 "
    "--lexicon-features jieba --precision mixed_bfloat16 --epochs 3"
)


def chinese_vocabulary_advice(coverage, threshold=0.05):
    """Advice when a backbone's vocabulary misses Chinese characters.

    Args:
        coverage: dict from `unknown_token_rate`.
        threshold: float in [0, 1]. CJK unknown rate above which to advise.
            Defaults to 0.05 (MiniLM's English vocabulary misses ~70%).

    Returns:
        str, or None when the text has no CJK characters or the rate is at
        most `threshold`.
    """
    if not coverage["cjk_characters"]:
        return None
    rate = coverage["cjk_unknown_rate"]
    if rate <= threshold:
        return None
    return (
        f"{rate:.1%} of the CJK characters are unknown to this backbone's "
        "vocabulary, so it cannot tell them apart. Use an encoder whose "
        "vocabulary covers Chinese, e.g. the offline multilingual-e5-small "
        f"(0.05% unknown on CLUENER2020): {CHINESE_NER_COMMAND}"
    )
