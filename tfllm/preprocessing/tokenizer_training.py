"""Training sub-word tokenizers on a corpus, for KerasHub's tokenizer classes.

Training uses the Hugging Face `tokenizers` library (Rust, fast on a CPU);
the result is a vocabulary (and merges) that KerasHub's own tokenizers load,
so models, presets and SavedModel exports tokenize with KerasHub/TF ops.

- WordPiece (Wu et al. 2016; BERT, Devlin et al. 2019): BERT's basic
  tokenization first (whitespace and punctuation splits; every CJK
  character is its own word, as BERT's `tokenize_chinese_chars` does; with
  `lowercase`, NFKC case folding as KerasHub's `BertTokenizer` does, which
  also maps full-width punctuation to ASCII; accents are kept, as there),
  then greedy
  longest-match sub-words with the `##` prefix. Loads as
  `keras_hub.tokenizers.BertTokenizer`.
- Byte-level BPE (Sennrich et al. 2016; GPT-2, Radford et al. 2019): GPT-2's
  pre-tokenization regex over bytes mapped to printable characters, so any
  text round-trips without unknown tokens. Saved as `vocab.json` and
  `merges.txt`; loads as `keras_hub.tokenizers.GPT2Tokenizer`.
"""

import json
import pathlib
import unicodedata

WORDPIECE_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
END_OF_TEXT = "<|endoftext|>"


def train_wordpiece(texts, vocabulary_size, lowercase=True,
                    min_frequency=2):
    """Learns a WordPiece vocabulary (BERT-style) from texts.

    Args:
        texts: iterable of str.
        vocabulary_size: int. Size of the vocabulary, special tokens
            included (fewer if the corpus has fewer distinct pieces).
        lowercase: bool. NFKC case folding (uncased model), as
            `keras_hub.tokenizers.BertTokenizer(lowercase=True)` applies.
        min_frequency: int. Pieces seen fewer times are not merged in.
            Every character of the corpus is kept (no alphabet limit), so a
            Chinese corpus keeps all its characters.

    Returns:
        list of str: the vocabulary in id order, starting with
        `[PAD] [UNK] [CLS] [SEP] [MASK]` (ids 0-4).

    Raises:
        ValueError: `vocabulary_size` smaller than the special tokens.
    """
    from tokenizers import BertWordPieceTokenizer

    if vocabulary_size <= len(WORDPIECE_SPECIAL_TOKENS):
        raise ValueError(f"vocabulary_size {vocabulary_size} is too small")
    tokenizer = BertWordPieceTokenizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False,
        lowercase=False,
    )
    if lowercase:  # tf_text.case_fold_utf8, KerasHub's lower-casing
        texts = (unicodedata.normalize("NFKC", t.casefold()) for t in texts)
    tokenizer.train_from_iterator(
        texts, vocab_size=vocabulary_size, min_frequency=min_frequency,
        special_tokens=list(WORDPIECE_SPECIAL_TOKENS),
        limit_alphabet=10**9, wordpieces_prefix="##",
    )
    vocab = tokenizer.get_vocab()
    return sorted(vocab, key=vocab.get)


def wordpiece_tokenizer(vocabulary, lowercase=True):
    """A `keras_hub.tokenizers.BertTokenizer` over a WordPiece vocabulary.

    Args:
        vocabulary: list of str (id order) or a path to a `vocab.txt`.
        lowercase: bool. Must match `train_wordpiece`'s.
    """
    import keras_hub

    if not isinstance(vocabulary, (list, tuple)):
        vocabulary = pathlib.Path(vocabulary).read_text(
            encoding="utf-8").splitlines()
    return keras_hub.tokenizers.BertTokenizer(
        vocabulary=list(vocabulary), lowercase=lowercase)


def train_byte_level_bpe(texts, vocabulary_size, min_frequency=2):
    """Learns a byte-level BPE (GPT-2-style) vocabulary and merges.

    Args:
        texts: iterable of str.
        vocabulary_size: int. Size including the 256 byte symbols and
            `<|endoftext|>` (id 0).
        min_frequency: int. Pairs seen fewer times are not merged.

    Returns:
        `(vocabulary, merges)`: dict str -> int and list of `"a b"` str, in
        the form `vocab.json` and `merges.txt` hold.

    Raises:
        ValueError: `vocabulary_size` below 257.
    """
    from tokenizers import ByteLevelBPETokenizer

    if vocabulary_size < 257:
        raise ValueError(
            f"vocabulary_size must be >= 257 (256 bytes + {END_OF_TEXT})")
    tokenizer = ByteLevelBPETokenizer(add_prefix_space=False)
    tokenizer.train_from_iterator(
        texts, vocab_size=vocabulary_size, min_frequency=min_frequency,
        special_tokens=[END_OF_TEXT],
    )
    model = json.loads(tokenizer._tokenizer.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m)
              for m in model["merges"]]
    return dict(model["vocab"]), merges


def save_byte_level_bpe(vocabulary, merges, folder):
    """Writes `vocab.json` and `merges.txt` (GPT-2's file layout).

    Returns:
        `(vocab_path, merges_path)`.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_path = folder / "vocab.json"
    merges_path = folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocabulary, ensure_ascii=False),
                          encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                           encoding="utf-8")
    return vocab_path, merges_path


def byte_level_bpe_tokenizer(vocabulary, merges, sequence_length=None):
    """A `keras_hub.tokenizers.GPT2Tokenizer` over a byte-level BPE.

    Args:
        vocabulary: dict str -> int, or a path to `vocab.json`.
        merges: list of `"a b"` str, or a path to `merges.txt`.
        sequence_length: int or None. Passed to the tokenizer.
    """
    import keras_hub

    if not isinstance(vocabulary, dict):
        vocabulary = json.loads(
            pathlib.Path(vocabulary).read_text(encoding="utf-8"))
    if not isinstance(merges, (list, tuple)):
        merges = [
            line for line in pathlib.Path(merges).read_text(
                encoding="utf-8").splitlines()
            if line and not line.startswith("#version")
        ]
    return keras_hub.tokenizers.GPT2Tokenizer(
        vocabulary=vocabulary, merges=list(merges),
        sequence_length=sequence_length)
