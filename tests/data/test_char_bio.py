"""Character-per-line BIO readers: Weibo position digits, generic files."""

import pytest

from tfllm.data.char_bio import read_char_bio
from tfllm.data.char_bio import read_weibo_ner
from tfllm.data.char_spans import ConversionReport
from tfllm.data.errors import DataFormatError

WEIBO = (
    "科0\tO\n技1\tO\n张0\tB-PER.NAM\n三1\tI-PER.NAM\n老0\tB-PER.NOM\n"
    "师1\tI-PER.NOM\n\n\n"
    "p10\tO\n\ufffd\ufffd0\tO\n北0\tB-GPE.NAM\n京1\tI-GPE.NAM\n"
    "2\tO\n"  # a digit character with position 12 would be "212"
    "同0\tI-PER.NOM\n学1\tI-PER.NOM\n"
)


def test_weibo_position_digits_and_placeholder(tmp_path):
    path = tmp_path / "weiboNER_2nd_conll.dev"
    path.write_text(WEIBO.replace("2\tO", "212\tO"), encoding="utf-8")
    report = ConversionReport()
    first, second = read_weibo_ner(path, report=report)
    assert first.text == "科技张三老师" and first.line == 1
    assert first.entities == [(2, 4, "PER.NAM"), (4, 6, "PER.NOM")]
    # The lost-emoji placeholder is two code points with one tag.
    assert second.text == "p\ufffd\ufffd北京2同学" and second.line == 9
    assert second.entities == [(3, 5, "GPE.NAM"), (6, 8, "PER.NOM")]
    # I-PER.NOM after O starts an entity, as conlleval reads it: reported.
    assert report.repaired_tags == [
        f"{path}:14: I-PER.NOM does not continue an entity of type "
        "PER.NOM; read as B-PER.NOM"]


def test_weibo_named_only(tmp_path):
    path = tmp_path / "w.train"
    path.write_text(WEIBO.replace("2\tO", "212\tO"), encoding="utf-8")
    first, second = read_weibo_ner(path, named_only=True)
    assert first.entities == [(2, 4, "PER.NAM")]
    assert second.entities == [(3, 5, "GPE.NAM")]


@pytest.mark.parametrize("line, message", [
    ("科\tO", "followed by its position digits"),
    ("科0 O", "2 tab-separated columns"),
    ("科0\tB_PER", "not IOB"),
])
def test_weibo_errors(tmp_path, line, message):
    path = tmp_path / "w.dev"
    path.write_text(f"我0\tO\n{line}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=f"w.dev:2: .*{message}"):
        read_weibo_ner(path)


def test_generic_char_bio_with_crlf_and_full_width_space(tmp_path):
    path = tmp_path / "train.char.bmes"
    lines = ["我 O", "在 O", "北 B-LOC", "京 I-LOC", "\u3000 O", "A pos O",
             "", "", "好\tB-X", ""]
    path.write_bytes(("\r\n".join(lines)).encode("utf-8"))
    first, second = read_char_bio(path)
    assert first.text == "我在北京\u3000A" and first.entities == [(2, 4, "LOC")]
    assert second.text == "好" and second.line == 9
    bad = tmp_path / "bad.txt"
    bad.write_text("我 O\n北京 B-LOC\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="bad.txt:2: expected one "
                       "character, whitespace and a tag"):
        read_char_bio(bad)
    bad.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no sentences found"):
        read_char_bio(bad)
