import pytest

from tfllm.prompting.templates import PromptTemplate
from tfllm.prompting.templates import TemplateError
from tfllm.prompting.templates import parse_labels


def test_render_and_demonstration():
    template = PromptTemplate("Review: {text}\nSentiment:",
                              {"neg": ["bad", "awful"], "pos": "good"})
    assert template.render("fine") == "Review: fine\nSentiment:"
    assert template.demonstration("meh", "neg") == \
        "Review: meh\nSentiment: bad"
    assert template.verbalizer == {"neg": ["bad", "awful"], "pos": ["good"]}
    assert template.labels == ["neg", "pos"]
    assert PromptTemplate("{{x}} {text}", {"a": "b"}).render("y") == "{x} y"


@pytest.mark.parametrize("text, message", [
    ("Review: \nSentiment:", "must contain '{text}'"),
    ("{text} {text}", "exactly once"),
    ("{text} {label}", "no other field"),
    ("{text", "literal braces"),
])
def test_bad_templates_say_what_is_wrong(text, message):
    with pytest.raises(TemplateError, match=message.replace("{", r"\{")
                       .replace("}", r"\}")):
        PromptTemplate(text, {"a": ["b"]})


def test_bad_verbalizers_and_unknown_labels():
    with pytest.raises(TemplateError, match="no labels"):
        PromptTemplate("{text}", {})
    with pytest.raises(TemplateError, match="'a' needs one or more"):
        PromptTemplate("{text}", {"a": [" "]})
    template = PromptTemplate("{text}", {"a": ["b"]})
    with pytest.raises(TemplateError, match="unknown label 'z'.*'a'"):
        template.words("z")


def test_parse_labels():
    assert parse_labels("neg=terrible|awful, pos ,card_arrival") == {
        "neg": ["terrible", "awful"], "pos": ["pos"],
        "card_arrival": ["card arrival"]}
    with pytest.raises(TemplateError, match="given twice"):
        parse_labels("a,a")
    with pytest.raises(TemplateError, match="no label"):
        parse_labels("a,=x")
    with pytest.raises(TemplateError, match="empty word"):
        parse_labels("a=x||y")
