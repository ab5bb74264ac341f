"""Corpus reading, held-out split and packing (tfllm.data.corpus)."""

import numpy as np
import pytest

from tfllm.data.corpus import causal_lm_pairs
from tfllm.data.corpus import encode_causal_lm
from tfllm.data.corpus import pack_causal_lm_blocks
from tfllm.data.corpus import pack_masked_lm_blocks
from tfllm.data.corpus import read_corpora
from tfllm.data.corpus import read_corpus
from tfllm.data.corpus import split_documents
from tfllm.data.errors import DataFormatError
from tfllm.data.locate import find_dataset_dir
from tfllm.data.pipeline import make_dataset


def test_blank_line_and_line_layouts(tmp_path):
    blank = tmp_path / "b.txt"
    blank.write_text("a b\nc\n\n\nd e\n\nf\n", encoding="utf-8")
    assert read_corpus(blank) == ["a b\nc", "d e", "f"]
    assert read_corpus(blank, "lines") == ["a b", "c", "d e", "f"]
    lines = tmp_path / "l.txt"
    lines.write_bytes(b"\xef\xbb\xbfone\r\ntwo  \n")
    assert read_corpus(lines) == ["one", "two"]


def test_jsonl_conll_and_format_prefixes(tmp_path):
    jsonl = tmp_path / "t.json"
    jsonl.write_text(
        '{"text": "浙商银行", "label": {}}\n\n{"text": "x y"}\n',
        encoding="utf-8")
    conll = tmp_path / "train.txt"
    conll.write_text("-DOCSTART- -X- O O\n\nEU B\nrejects O\n\n科 O\n技 O\n",
                     encoding="utf-8")
    assert read_corpus(jsonl) == ["浙商银行", "x y"]
    assert read_corpus(conll, "conll") == ["EU rejects", "科 技"]
    assert read_corpus(conll, "conll-chars") == ["EUrejects", "科技"]
    assert read_corpora(f"{jsonl},conll:{conll}") == [
        "浙商银行", "x y", "EU rejects", "科 技"]


def test_weibo_tokens_lose_their_word_positions(tmp_path):
    weibo = tmp_path / "weibo.train"
    weibo.write_text("科0\tO\n技1\tO\n\ufffd\ufffd0\tO\np10\tO\n\n"
                     "张0\tB-PER.NAM\n", encoding="utf-8")
    assert read_corpus(weibo, "weibo") == ["科技\ufffd\ufffdp", "张"]
    bad = tmp_path / "bad.train"
    bad.write_text("科0\tO\n技\tO\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.train:2: token '技'"):
        read_corpus(bad, "weibo")


def test_bad_input_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("ok\nstill ok\n".encode() + b"caf\xe9\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt:3: not valid UTF-8"):
        read_corpus(bad)
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"text": "a"}\n{"label": 1}\n')
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:2: .*\"text\""):
        read_corpus(jsonl)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(DataFormatError, match="empty.txt: no text"):
        read_corpus(empty)
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "missing.txt")


def test_split_is_seeded_disjoint_and_complete():
    docs = [f"doc {i}" for i in range(100)]
    train, held_out = split_documents(docs, 0.1, seed=3)
    assert len(held_out) == 10 and len(train) == 90
    assert sorted(train + held_out) == sorted(docs)
    assert split_documents(docs, 0.1, seed=3) == (train, held_out)
    assert split_documents(docs, 0.1, seed=4)[1] != held_out
    assert train != docs[10:]  # shuffled


def test_masked_lm_packing_keeps_every_token():
    docs = [[10, 11, 12], [13], [14, 15, 16, 17, 18]]
    blocks = pack_masked_lm_blocks(docs, 6, start_id=2, end_id=3)
    # Stream 10 11 12 [SEP] 13 [SEP] 14 ... 18, pieces of 4 tokens.
    assert [b.tolist() for b in blocks] == [
        [2, 10, 11, 12, 3, 3], [2, 13, 3, 14, 15, 3], [2, 16, 17, 18, 3]]
    bodies = np.concatenate([b[1:-1] for b in blocks]).tolist()
    assert bodies == [10, 11, 12, 3, 13, 3, 14, 15, 16, 17, 18]


def test_causal_lm_labels_are_shifted_once():
    """Outside case A-2: ids [5, 6, 7, 8] -> (5->6), (6->7), (7->8)."""
    for length in (3, 4, 10):
        inputs, targets = causal_lm_pairs([5, 6, 7, 8], length)
        pairs = [(int(a), int(b)) for x, y in zip(inputs, targets)
                 for a, b in zip(x, y)]
        assert pairs == [(5, 6), (6, 7), (7, 8)]
    # Through the input pipeline the model sees exactly these pairs.
    encoded = encode_causal_lm(*causal_lm_pairs([5, 6, 7, 8], 3))
    x, y, w = next(iter(make_dataset(encoded, 4, 3)))
    assert x["token_ids"].numpy().tolist() == [[5, 6, 7]]
    assert y.numpy().tolist() == [[6, 7, 8]]
    assert w.numpy().tolist() == [[1.0, 1.0, 1.0]]


def test_causal_lm_packing_targets_every_token_once():
    docs = [[5, 6, 7], [8, 9]]
    inputs, targets = pack_causal_lm_blocks(docs, 3, end_id=0)
    # Stream [0] 5 6 7 [0] 8 9 [0]: blocks share one token, tail kept.
    assert [x.tolist() for x in inputs] == [[0, 5, 6], [7, 0, 8], [9]]
    assert [y.tolist() for y in targets] == [[5, 6, 7], [0, 8, 9], [0]]


@pytest.mark.real_data
@pytest.mark.parametrize("name,file,corpus_format,documents", [
    ("zh_songci", "songci.txt", None, 10000),
    ("tiny_shakespeare", "input.txt", None, 7222),
    ("weibo_ner", "weiboNER_2nd_conll.train", "weibo", 1350),
])
def test_real_corpora_read(name, file, corpus_format, documents):
    folder = find_dataset_dir(name, required_files=(file,))
    if folder is None:
        pytest.skip(f"{name} not found (../shared/data or TFLLM_DATA_DIR)")
    docs = read_corpus(folder / file, corpus_format)
    assert len(docs) == documents
    if name == "zh_songci":  # 72,786 paragraphs, one per line (SOURCE.md)
        assert sum(d.count("\n") + 1 for d in docs) == 72786
    if name == "weibo_ner":  # one character per token (SOURCE.md) ...
        lines = (folder / file).read_text(encoding="utf-8").splitlines()
        pairs = sum(line.startswith("\ufffd\ufffd") for line in lines)
        # ... where the two-character placeholder counts as one.
        assert sum(len(d) for d in docs) - pairs == 73778
