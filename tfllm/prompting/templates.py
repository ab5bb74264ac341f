"""Prompt templates and verbalizers for prompt-based classification.

A template is a string with one `{text}` slot (Schick and Schütze 2021,
"Exploiting Cloze Questions for Few Shot Text Classification": a pattern);
a verbalizer maps each label to one or more words whose likelihood after the
prompt stands for the label. The encoder scorer reads the same mapping as
label descriptions.
"""

import dataclasses
import string


class TemplateError(ValueError):
    """A template or a verbalizer is malformed; the message says how."""


def parse_labels(spec):
    """Parses `"neg=terrible|awful,pos=great"` into a verbalizer.

    Args:
        spec: str. Comma-separated `label` or `label=word|word...` items;
            a bare `label` is its own word (underscores become spaces, so
            Banking77's `card_arrival` reads "card arrival").

    Returns:
        dict label -> list of str, in the order given.

    Raises:
        TemplateError: an empty item, label or word, or a repeated label.
    """
    verbalizer = {}
    for number, item in enumerate(spec.split(","), 1):
        label, _, words = item.partition("=")
        label = label.strip()
        if not label:
            raise TemplateError(
                f"--labels item {number} ({item!r}) has no label; expected "
                "'label' or 'label=word|word'")
        if label in verbalizer:
            raise TemplateError(f"--labels: label {label!r} given twice")
        words = [w.strip() for w in words.split("|")] if words else [
            label.replace("_", " ")]
        if not all(words):
            raise TemplateError(
                f"--labels: label {label!r} has an empty word in {item!r}")
        verbalizer[label] = words
    return verbalizer


@dataclasses.dataclass
class PromptTemplate:
    """A `{text}` template and a verbalizer, checked at construction.

    Args:
        template: str. Must contain the field `{text}` exactly once and no
            other field (write `{{`/`}}` for literal braces).
        verbalizer: dict label -> list of str (or one str). Each label's
            words; the label's score is taken over them (see the scorers).
        answer_prefix: str. Put between the prompt and a verbalizer word
            (default one space: `"Sentiment:" + " " + "positive"`).
        demonstration_separator: str. Between demonstrations and the query
            in few-shot prompts. Default a blank line.

    Raises:
        TemplateError: no `{text}`, another field, bad braces, an empty
            verbalizer, a label without words or an empty word.
    """

    template: str
    verbalizer: dict
    answer_prefix: str = " "
    demonstration_separator: str = "\n\n"

    def __post_init__(self):
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(
                self.template) if f is not None]
        except ValueError as e:
            raise TemplateError(
                f"template {self.template!r}: {e}; write '{{{{' and '}}}}' "
                "for literal braces") from None
        if fields.count("text") != 1 or len(fields) != 1:
            raise TemplateError(
                f"template {self.template!r} must contain '{{text}}' exactly"
                f" once and no other field; found fields {fields}")
        if not self.verbalizer:
            raise TemplateError("the verbalizer has no labels")
        verbalizer = {}
        for label, words in self.verbalizer.items():
            words = [words] if isinstance(words, str) else list(words)
            if not words or not all(isinstance(w, str) and w.strip()
                                    for w in words):
                raise TemplateError(
                    f"label {label!r} needs one or more non-empty words, "
                    f"got {words!r}")
            verbalizer[str(label)] = words
        self.verbalizer = verbalizer

    @property
    def labels(self):
        """list of str: the labels, in verbalizer order."""
        return list(self.verbalizer)

    def render(self, text):
        """The prompt for one text (the answer slot left open)."""
        return self.template.format(text=text)

    def demonstration(self, text, label):
        """A solved example: the prompt and the label's first word.

        Raises:
            TemplateError: `label` is not in the verbalizer.
        """
        return (self.render(text) + self.answer_prefix
                + self.words(label)[0])

    def words(self, label):
        """The verbalizer words of `label`.

        Raises:
            TemplateError: unknown label (the message lists the known).
        """
        if label not in self.verbalizer:
            raise TemplateError(
                f"unknown label {label!r}; the verbalizer has "
                f"{', '.join(map(repr, self.verbalizer))}")
        return self.verbalizer[label]
