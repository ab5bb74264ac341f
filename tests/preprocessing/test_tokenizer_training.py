"""Tokenizer training (WordPiece, byte-level BPE) and KerasHub loading."""

import unicodedata

import keras_hub
import numpy as np
from tokenizers import BertWordPieceTokenizer
from tokenizers import ByteLevelBPETokenizer

from tfllm.preprocessing.tokenizer_training import byte_level_bpe_tokenizer
from tfllm.preprocessing.tokenizer_training import save_byte_level_bpe
from tfllm.preprocessing.tokenizer_training import train_byte_level_bpe
from tfllm.preprocessing.tokenizer_training import train_wordpiece
from tfllm.preprocessing.tokenizer_training import wordpiece_tokenizer

TEXTS = [
    "First Citizen:\nBefore we proceed any further, "
    "hear me speak.",
    "All:\nSpeak, speak.",
    "You are all resolved rather to die than "
    "to famish?",
] * 10 + ["气和玉烛，睿化著鸿明。缇管一阳生。", "Café naïve 2024 🙂"]
PROBES = ["Speak, speak further!", "气和玉烛，一阳生。", "Café naïve 🙂",
          "Resolved citizens proceed."]


def _ids(tokenizer, text):
    return np.asarray(tokenizer(text)).tolist()


def test_wordpiece_vocabulary_matches_keras_hub_and_splits_chinese(tmp_path):
    vocabulary = train_wordpiece(TEXTS, 120, lowercase=True, min_frequency=1)
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocabulary) <= 120 and "##" not in vocabulary
    tokenizer = wordpiece_tokenizer(vocabulary)
    reference = BertWordPieceTokenizer(
        vocab={t: i for i, t in enumerate(vocabulary)}, lowercase=False,
        strip_accents=False)
    for text in PROBES:
        folded = unicodedata.normalize("NFKC", text.casefold())
        assert _ids(tokenizer, text) == reference.encode(
            folded, add_special_tokens=False).ids
    # Every Chinese character is one token, as BERT splits CJK text.
    pieces = [vocabulary[i] for i in _ids(tokenizer, "气和玉烛，一阳生。")]
    assert pieces == ["气", "和", "玉", "烛", ",", "一", "阳", "生", "。"]
    assert all(c in vocabulary for c in "睿化著鸿明缇管")  # no alphabet cap
    # Saved beside a model and loaded by KerasHub's generic loader.
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=1,
        hidden_dim=8, intermediate_dim=8).save_to_preset(str(tmp_path))
    tokenizer.save_to_preset(str(tmp_path))
    loaded = keras_hub.tokenizers.Tokenizer.from_preset(str(tmp_path))
    assert isinstance(loaded, keras_hub.tokenizers.BertTokenizer)
    for text in PROBES:
        assert _ids(loaded, text) == _ids(tokenizer, text)
    assert loaded.mask_token_id == 4 and loaded.pad_token_id == 0


def test_byte_level_bpe_round_trip_and_files(tmp_path):
    vocabulary, merges = train_byte_level_bpe(TEXTS, 300, min_frequency=1)
    assert vocabulary["<|endoftext|>"] == 0 and len(vocabulary) == 300
    tokenizer = byte_level_bpe_tokenizer(vocabulary, merges)
    vocab_path, merges_path = save_byte_level_bpe(
        vocabulary, merges, tmp_path / "bpe")
    from_files = byte_level_bpe_tokenizer(vocab_path, merges_path)
    reference = ByteLevelBPETokenizer(str(vocab_path), str(merges_path))
    for text in PROBES + TEXTS[:3]:
        ids = _ids(tokenizer, text)
        assert ids == reference.encode(text).ids == _ids(from_files, text)
        assert tokenizer.detokenize(ids) == text  # lossless, no [UNK]
    assert len(_ids(tokenizer, "speak, speak")) < len("speak, speak")
    keras_hub.models.GPT2Backbone(
        vocabulary_size=300, num_layers=1, num_heads=1, hidden_dim=8,
        intermediate_dim=8, max_sequence_length=8,
    ).save_to_preset(str(tmp_path / "preset"))
    tokenizer.save_to_preset(str(tmp_path / "preset"))
    loaded = keras_hub.tokenizers.Tokenizer.from_preset(
        str(tmp_path / "preset"))
    assert isinstance(loaded, keras_hub.tokenizers.GPT2Tokenizer)
    assert _ids(loaded, PROBES[0]) == _ids(tokenizer, PROBES[0])
