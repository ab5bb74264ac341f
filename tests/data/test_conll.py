import pytest

from tfllm.data.conll import encode_tags
from tfllm.data.conll import read_conll
from tfllm.data.errors import DataFormatError
from tiny import write_conll


def test_reads_sentences_and_converts_iob1_to_iob2(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(
        "-DOCSTART- -X- O O\n\n"
        "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n"
        "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n"
        "Smith NNP I-NP B-PER\n\n"
        "-DOCSTART- -X- O O\n\nBRUSSELS NNP I-NP I-LOC\n"
    )
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [
        ["EU", "rejects", "German"], ["Peter", "Blackburn", "Smith"],
        ["BRUSSELS"]]
    assert [s.tags for s in sentences] == [
        ["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER", "B-PER"], ["B-LOC"]]
    assert [s.line for s in sentences] == [3, 7, 13]


def test_crlf_bom_and_two_columns(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes("\ufeffAnna B-PER\r\nvisited O\r\n\r\nLyon B-LOC\r\n"
                     .encode("utf-8"))
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [["Anna", "visited"], ["Lyon"]]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Anna NNP B-PER\nvisited\nLyon NNP B-LOC\n")
    with pytest.raises(DataFormatError, match=rf"{path}:2: expected at least 2"):
        read_conll(path)


def test_bad_tag_names_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Anna NNP B-PER\n\nLyon NNP X-LOC\n")
    with pytest.raises(DataFormatError, match=rf"{path}:3: tag 'X-LOC'"):
        read_conll(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n-DOCSTART- -X- O O\n\n")
    with pytest.raises(DataFormatError, match="no sentences found"):
        read_conll(path)


def test_non_utf8_names_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Anna B-PER\n\nK\u00f6ln B-LOC\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=rf"{path}:3: not valid UTF-8"):
        read_conll(path)


def test_unknown_label_in_evaluation_file(tmp_path):
    path = write_conll(tmp_path / "valid.txt", [
        (["Anna", "visited", "Lyon"], ["B-PER", "O", "B-LOC"]),
        (["Zorbex"], ["B-ORG"])])
    sentences = read_conll(path)
    assert encode_tags(sentences[:1], ["O", "B-LOC", "B-PER"]) == [[2, 0, 1]]
    with pytest.raises(DataFormatError, match=rf"{path}:7: unknown label 'B-ORG'"):
        encode_tags(sentences, ["O", "B-LOC", "B-PER"])
