"""Character spans to words: tags, word splits at entity boundaries."""

import pytest

from tfllm.data.char_spans import CharSentence
from tfllm.data.char_spans import ConversionReport
from tfllm.data.char_spans import SpanWarning
from tfllm.data.char_spans import to_word_sentences
from tfllm.data.errors import DataFormatError
from tfllm.data.ner_datasets import ner_label_list


def test_words_tags_and_offsets():
    text = "自此CPL2011赛区 iPhone😀北京"
    sentence = CharSentence(text, [(2, 5, "organization"),
                                   (12, 18, "game"), (19, 21, "address")],
                            "x.json", 4)
    [words] = to_word_sentences([sentence])
    assert words.words == ["自", "此", "CPL", "2011", "赛", "区", "iPhone",
                           "😀", "北", "京"]
    assert words.tags == ["O", "O", "B-organization", "O", "O", "O",
                          "B-game", "O", "B-address", "I-address"]
    assert all(text[a:b] == w for w, (a, b) in zip(words.words, words.offsets))


def test_boundary_inside_a_word_splits_it_and_warns():
    sentence = CharSentence("巴勒莫vsac米兰", [(5, 9, "organization")],
                            "dev.json", 597)
    report = ConversionReport()
    with pytest.warns(SpanWarning, match="dev.json:597: word 'vsac' split"):
        [words] = to_word_sentences([sentence], report=report)
    assert words.words == ["巴", "勒", "莫", "vs", "ac", "米", "兰"]
    assert words.tags[3:] == ["O", "B-organization", "I-organization",
                              "I-organization"]
    assert len(report.split_words) == 1


def test_empty_text_and_space_only_entity_fail():
    with pytest.raises(DataFormatError, match="a.json:3: sentence ' ' has no"):
        to_word_sentences([CharSentence(" ", [], "a.json", 3)])
    with pytest.raises(DataFormatError, match="holds no word"):
        to_word_sentences([CharSentence("北 京", [(1, 2, "LOC")], "a", 1)])


def test_label_list_includes_documented_types():
    labels = ner_label_list("weibo_ner", [])
    assert len(labels) == 17 and labels[:3] == ["O", "B-GPE.NAM", "I-GPE.NAM"]
    assert len(ner_label_list("cluener2020", [])) == 21


def test_read_char_bio_file_into_words(tmp_path):
    from tfllm.data.ner_datasets import read_ner_file

    path = tmp_path / "dev.txt"
    path.write_text("我 O\n用 O\ni B-PRODUCT\nP I-PRODUCT\n😀 O\n\n北 B-LOC\n",
                    encoding="utf-8")
    first, second = read_ner_file("char_bio", path)
    assert first.words == ["我", "用", "iP", "😀"]
    assert first.tags == ["O", "O", "B-PRODUCT", "O"]
    assert (second.words, second.tags, second.line) == (["北"], ["B-LOC"], 7)
