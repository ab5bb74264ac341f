"""Scores under seeded character-level noise: how much a model's score drops.

`robustness_check` scores a trained `TokenClassifier` (entity-level F1,
seqeval strict IOB2) or `TextClassifier` (accuracy and macro-F1) on clean
data and on copies of it with one kind of noise each, all seeded:

- `typo`: English typing errors inside words (Belinkov & Bisk 2018,
  "Synthetic and Natural Noise Both Break Neural Machine Translation";
  Pruthi et al. 2019, "Combating Adversarial Misspellings with Robust Word
  Recognition"): in a run of at least 3 ASCII letters, swap two adjacent
  inner letters, drop one, insert one, or replace one by a neighbour on a
  QWERTY keyboard. The first and last letters stay, so no word appears,
  disappears or merges.
- `homophone`: a Chinese character replaced by another with the same pinyin
  (tone included), as a pinyin input method mistypes (Wang et al. 2018, "A
  Hybrid Approach to Automatic Corpus Generation for Chinese Spelling
  Check"). Pinyin from `pypinyin` (each character's most frequent reading);
  the replacements are the characters of the model's vocabulary when it
  has at least `MIN_VOCABULARY_CHARACTERS` single-character CJK pieces,
  otherwise the characters of the data.
- `traditional` / `simplified`: a character written in the other script,
  by OpenCC's phrase-aware conversion (`s2t` / `t2s`, the `opencc`
  package), kept only where it maps one character to one.
- `adversarial`: no text noise; the score under a one-step FGM attack on
  the word embeddings, chunk by chunk (`FgmAttack` in
  `tfllm.evaluation.adversarial_robustness`; options `epsilon`,
  `batch_size`). `rate` does not apply to it.

`rate` is the probability that each eligible unit (a letter run for
`typo`, a character with a replacement for the others) is changed; the
realised fraction is reported. Chinese noise is one character for one, and
typos stay inside a word, so NER tags stay aligned with the words.

New kinds register in `PERTURBATIONS` (`register_perturbation`). An entry
is a factory `f(rate=..., **options)` returning a `Perturbation`; one that
perturbs the model instead of the text (FGM on the token embeddings,
Miyato et al. 2017, "Adversarial Training Methods for Semi-Supervised Text
Classification") overrides `Perturbation.evaluate`.

Cost: one evaluation pass per noise kind plus the clean pass (the
evaluation's own time each; about three for `adversarial`); the
homophone table takes about a second for a 20k-piece vocabulary.
"""

import dataclasses
import random
import re
import unicodedata

MIN_VOCABULARY_CHARACTERS = 500
_LETTERS = re.compile(r"[A-Za-z]{3,}")
_QWERTY = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours():
    """Letter -> the letters whose keys touch it on a QWERTY keyboard.

    Rows are staggered by a quarter and a half key (`a` sits between `q`
    and `w`, `z` between `a` and `s`): keys touch when they are next to
    each other in a row, or in adjacent rows less than one key apart.
    """
    offset = (0.0, 0.25, 0.75)
    where = {c: (r, i + offset[r]) for r, row in enumerate(_QWERTY)
             for i, c in enumerate(row)}
    neighbours = {}
    for c, (r, x) in where.items():
        neighbours[c] = "".join(sorted(
            other for other, (r2, x2) in where.items()
            if other != c and (abs(r - r2) == 1 and abs(x - x2) < 1
                               or r == r2 and abs(x - x2) == 1)))
    return neighbours


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()


def is_cjk(char):
    """True for a CJK unified ideograph (any block)."""
    return unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH")


@dataclasses.dataclass
class NoiseStats:
    """How much one noise pass changed.

    Attributes:
        eligible: int. Units that could be changed.
        changed: int. Units that were changed.
    """

    eligible: int = 0
    changed: int = 0

    @property
    def rate(self):
        """`changed / eligible` (0.0 when nothing was eligible)."""
        return self.changed / self.eligible if self.eligible else 0.0


class Perturbation:
    """One kind of perturbation, scored by `evaluate`.

    Subclasses that edit text implement `noise_text` (and may override
    `noise_words` and `prepare`); a model-level perturbation (adversarial)
    overrides `evaluate` instead.

    Args:
        rate: float in `[0, 1]`. Probability that each eligible unit is
            changed.

    Raises:
        ValueError: `rate` outside `[0, 1]`.
    """

    name = "perturbation"

    def __init__(self, rate=0.1):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate {rate}: expected a probability in [0, 1]")
        self.rate = rate

    def prepare(self, model, texts):
        """Called once before noising, with the model and the clean texts
        (list of str); builds tables. Default: nothing."""

    def noise_text(self, text, rng, stats):
        """A noisy copy of `text` (str); counts in `stats` (`NoiseStats`)."""
        raise NotImplementedError

    def noise_words(self, words, rng, stats):
        """A noisy copy of a word list, word for word (NER alignment)."""
        return [self.noise_text(w, rng, stats) for w in words]

    def evaluate(self, model, task, data, seed):
        """Scores `model` under this perturbation.

        Args:
            model: the task model.
            task: a task adapter (`perturb_data(data, perturbation, rng)`
                and `score(model, data)`).
            data: the clean examples.
            seed: int.

        Returns:
            `(scores, stats)`: the task's score dict and a `NoiseStats`.
        """
        rng = random.Random(f"{seed}:{self.name}")
        noisy, stats = task.perturb_data(data, self, rng)
        return task.score(model, noisy), stats


class TypoNoise(Perturbation):
    """English typos inside ASCII letter runs of 3+ letters (module doc)."""

    name = "typo"

    def noise_text(self, text, rng, stats):
        def replace(match):
            stats.eligible += 1
            if rng.random() >= self.rate:
                return match.group()
            stats.changed += 1
            return typo(match.group(), rng)

        return _LETTERS.sub(replace, text)


def typo(word, rng):
    """One typing error inside `word`, first and last letters kept.

    Args:
        word: str of at least 3 ASCII letters.
        rng: `random.Random`.

    Returns:
        str, different from `word`: an adjacent swap of two different
        inner letters (needs 4+ letters), an inner letter dropped, a letter
        inserted, or an inner letter replaced by a QWERTY neighbour (the
        case of the letter it replaces or follows).
    """
    inner = range(1, len(word) - 1)
    swaps = [i for i in inner if i + 1 < len(word) - 1
             and word[i] != word[i + 1]]
    kind = rng.choice(["swap", "drop", "insert", "keyboard"] if swaps
                      else ["drop", "insert", "keyboard"])
    if kind == "swap":
        i = rng.choice(swaps)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "drop":
        i = rng.choice(inner)
        return word[:i] + word[i + 1:]
    if kind == "insert":
        i = rng.randrange(1, len(word))
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        return word[:i] + _case_like(letter, word[i - 1]) + word[i:]
    i = rng.choice(inner)
    letter = rng.choice(KEYBOARD_NEIGHBOURS[word[i].lower()])
    return word[:i] + _case_like(letter, word[i]) + word[i + 1:]


def _case_like(letter, model):
    return letter.upper() if model.isupper() else letter


class _CharacterNoise(Perturbation):
    """Replaces single characters by a table (`self.table`: char -> list)."""

    table = None

    def noise_text(self, text, rng, stats):
        out = []
        for char in text:
            choices = self.table.get(char)
            if choices:
                stats.eligible += 1
                if rng.random() < self.rate:
                    stats.changed += 1
                    char = rng.choice(choices)
            out.append(char)
        return "".join(out)


class HomophoneNoise(_CharacterNoise):
    """A CJK character replaced by another with the same pinyin.

    Args:
        rate: float. See `Perturbation`.
        tone: bool. Default True: same syllable and tone; False ignores
            the tone (more, looser replacements).
    """

    name = "homophone"

    def __init__(self, rate=0.1, tone=True):
        super().__init__(rate)
        self.tone = tone

    def prepare(self, model, texts):
        pieces = vocabulary_characters(model)
        if len(pieces) < MIN_VOCABULARY_CHARACTERS:
            pieces = {c for t in texts for c in t if is_cjk(c)}
        self.table = homophone_groups(pieces, self.tone)


def vocabulary_characters(model):
    """The single CJK characters among a task model's tokenizer pieces.

    WordPiece `##` and SentencePiece `▁` marks are removed first.

    Args:
        model: a task model with `preprocessor.tokenizer`, or anything else
            (then the empty set).

    Returns:
        set of str.
    """
    tokenizer = getattr(getattr(model, "preprocessor", None), "tokenizer",
                        None)
    if tokenizer is None or not hasattr(tokenizer, "get_vocabulary"):
        return set()
    characters = set()
    for piece in tokenizer.get_vocabulary():
        piece = piece.removeprefix("##").removeprefix("\u2581")
        if len(piece) == 1 and is_cjk(piece):
            characters.add(piece)
    return characters


def homophone_groups(characters, tone=True):
    """Characters -> the other characters with the same pinyin.

    Args:
        characters: iterable of str (single characters; non-CJK ones and
            those without a pinyin reading are left out).
        tone: bool. Default True: the tone must match too (`pypinyin`'s
            `Style.TONE3`, e.g. `zhong1`); False compares `Style.NORMAL`.

    Returns:
        dict str -> sorted list of str; characters with no homophone in
        `characters` are absent.

    Raises:
        ImportError: `pypinyin` is not installed (`pip install tfllm[zh]`).
    """
    from pypinyin import Style
    from pypinyin import lazy_pinyin

    style = Style.TONE3 if tone else Style.NORMAL
    groups = {}
    for char in sorted(set(characters)):
        if len(char) != 1 or not is_cjk(char):
            continue
        reading = lazy_pinyin(char, style=style, errors="ignore")
        if reading and reading[0]:
            groups.setdefault(reading[0], []).append(char)
    table = {}
    for members in groups.values():
        for char in members:
            others = [c for c in members if c != char]
            if others:
                table[char] = others
    return table


class ScriptNoise(Perturbation):
    """Characters written in the other Chinese script (OpenCC).

    Args:
        config: str. An OpenCC configuration: `"s2t"` (simplified to
            traditional, default) or `"t2s"`.
        rate: float. See `Perturbation`.

    Raises:
        ImportError: `opencc` is not installed (`pip install tfllm[zh]`).
    """

    def __init__(self, config="s2t", rate=0.1):
        import opencc

        super().__init__(rate)
        self.config = config
        self.name = {"s2t": "traditional", "t2s": "simplified"}.get(
            config, config)
        self.converter = opencc.OpenCC(config)

    def convert(self, text):
        """The converted text, one character for one.

        The whole text is converted (OpenCC picks a character by its
        phrase); where that changes the length, each character is
        converted alone.
        """
        converted = self.converter.convert(text)
        if len(converted) == len(text):
            return converted
        out = []
        for char in text:
            one = self.converter.convert(char)
            out.append(one if len(one) == 1 else char)
        return "".join(out)

    def noise_text(self, text, rng, stats):
        out = []
        for char, other in zip(text, self.convert(text)):
            if other != char:
                stats.eligible += 1
                if rng.random() < self.rate:
                    stats.changed += 1
                    char = other
            out.append(char)
        return "".join(out)

    def noise_words(self, words, rng, stats):
        noisy = self.noise_text("".join(words), rng, stats)
        out, start = [], 0
        for word in words:
            out.append(noisy[start:start + len(word)])
            start += len(word)
        return out


def _fgm_attack(rate=0.1, **options):
    from tfllm.evaluation.adversarial_robustness import FgmAttack

    return FgmAttack(rate, **options)


PERTURBATIONS = {
    "typo": TypoNoise,
    "homophone": HomophoneNoise,
    "traditional": lambda rate=0.1: ScriptNoise("s2t", rate),
    "simplified": lambda rate=0.1: ScriptNoise("t2s", rate),
    "adversarial": _fgm_attack,
}


def register_perturbation(name, factory):
    """Adds a perturbation kind to `PERTURBATIONS`.

    Args:
        name: str. Its name in `robustness_check(noises=...)` and
            `--noise`.
        factory: callable `factory(rate=..., **options)` returning a
            `Perturbation` (`options`: its entry in
            `robustness_check(options=...)`).

    Raises:
        ValueError: the name is taken.
    """
    if name in PERTURBATIONS:
        raise ValueError(f"perturbation {name!r} is already registered")
    PERTURBATIONS[name] = factory


class NerTask:
    """Adapter for a `TokenClassifier` and `TaggedSentence`s."""

    metrics = ("entity_f1",)

    @staticmethod
    def texts(data):
        return ["".join(s.words) for s in data]

    @staticmethod
    def perturb_data(data, perturbation, rng):
        from tfllm.data.conll import TaggedSentence

        stats, out = NoiseStats(), []
        for s in data:
            words = perturbation.noise_words(list(s.words), rng, stats)
            out.append(TaggedSentence(words, list(s.tags), s.path, s.line))
        return out, stats

    @staticmethod
    def score(model, data):
        return {"entity_f1": float(model.evaluate(data)["f1"])}


class ClassificationTask:
    """Adapter for a `TextClassifier` and `TextExample`s (both texts of a
    pair are noised)."""

    metrics = ("accuracy", "macro_f1")

    @staticmethod
    def texts(data):
        return [e.text + (e.text_pair or "") for e in data]

    @staticmethod
    def perturb_data(data, perturbation, rng):
        stats, out = NoiseStats(), []
        for e in data:
            pair = (perturbation.noise_text(e.text_pair, rng, stats)
                    if e.text_pair else e.text_pair)
            out.append(dataclasses.replace(
                e, text=perturbation.noise_text(e.text, rng, stats),
                text_pair=pair))
        return out, stats

    @staticmethod
    def score(model, data):
        report = model.evaluate(data)
        return {k: float(report[k]) for k in ClassificationTask.metrics}


def _task_and_data(model, data):
    from tfllm.data.conll import TaggedSentence

    if hasattr(model, "predict_word_logits"):
        sentences = [s if isinstance(s, TaggedSentence)
                     else TaggedSentence(list(s[0]), list(s[1]))
                     for s in data]
        return NerTask, sentences
    return ClassificationTask, list(data)


def robustness_check(model, data, noises=("typo", "homophone",
                                           "traditional"),
                     rate=0.1, seed=0, options=None):
    """Clean and noisy scores of a trained model, and the drops.

    Args:
        model: a `TokenClassifier` or a `TextClassifier`.
        data: labelled examples: `TaggedSentence`s or `(words, tags)`
            pairs (NER), `TextExample`s (classification).
        noises: sequence of names in `PERTURBATIONS`. Default typo,
            homophone and traditional.
        rate: float in `[0, 1]`, default 0.1. Probability that each
            eligible unit is changed.
        seed: int, default 0. Each noise kind draws from its own generator
            seeded with `(seed, name)`, so results do not depend on order.
        options: dict or None. Noise name -> dict of keyword arguments for
            its factory, e.g. `{"adversarial": {"epsilon": 0.5,
            "batch_size": 32}}` (`FgmAttack`'s defaults: 1.0 and 32).

    Returns:
        dict: `task` (`"ner"` or `"classification"`), `metrics` (names),
        `rate`, `seed`, `num_examples`, `clean` (metric -> score, equal to
        `model.evaluate`'s) and `noise`: name -> {`scores`, `drop` (clean
        minus noisy, per metric), `eligible`, `changed`, `changed_rate`}
        (for `adversarial`: chunks, perturbed chunks), and `options`.

    Raises:
        ValueError: an unknown noise name (the message lists the known
            ones), options for a noise not in `noises`, a bad rate or
            option value, or empty data.
    """
    unknown = [n for n in noises if n not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"unknown noise {unknown}; known: "
                         f"{sorted(PERTURBATIONS)}")
    options = dict(options or {})
    extra = sorted(set(options) - set(noises))
    if extra:
        raise ValueError(f"options for {extra}, which are not in noises "
                         f"{list(noises)}")
    task, data = _task_and_data(model, data)
    if not data:
        raise ValueError("no examples to score")
    clean = task.score(model, data)
    result = {"task": "ner" if task is NerTask else "classification",
              "metrics": list(task.metrics), "rate": rate, "seed": seed,
              "num_examples": len(data), "clean": clean, "noise": {},
              "options": options}
    texts = task.texts(data)
    for name in noises:
        perturbation = PERTURBATIONS[name](rate=rate,
                                           **options.get(name, {}))
        perturbation.name = name
        perturbation.prepare(model, texts)
        scores, stats = perturbation.evaluate(model, task, data, seed)
        result["noise"][name] = {
            "scores": scores,
            "drop": {k: clean[k] - scores[k] for k in task.metrics},
            "eligible": stats.eligible, "changed": stats.changed,
            "changed_rate": stats.rate,
        }
    return result


def format_table(result):
    """The `robustness_check` result as a fixed-width text table."""
    metrics = result["metrics"]
    header = f"{'noise':<12} {'changed':>15} " + " ".join(
        f"{m:>10} {'drop':>8}" for m in metrics)
    lines = [header, f"{'clean':<12} {'-':>15} " + " ".join(
        f"{result['clean'][m]:>10.4f} {'-':>8}" for m in metrics)]
    for name, row in result["noise"].items():
        changed = f"{row['changed']}/{row['eligible']}"
        lines.append(f"{name:<12} {changed:>15} " + " ".join(
            f"{row['scores'][m]:>10.4f} {row['drop'][m]:>+8.4f}"
            for m in metrics))
    return "\n".join(lines)
