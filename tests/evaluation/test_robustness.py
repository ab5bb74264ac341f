"""Seeded character-level noise and `robustness_check` (issue 29)."""

import random

import pytest

from tiny import CLS_GOLD
from tiny import CLS_TEXTS
from tiny import SENTENCE_A
from tiny import SENTENCE_B
from tiny import TAGS_A
from tiny import TAGS_B

from tfllm.evaluation import robustness
from tfllm.evaluation.robustness import HomophoneNoise
from tfllm.evaluation.robustness import NoiseStats
from tfllm.evaluation.robustness import ScriptNoise
from tfllm.evaluation.robustness import TypoNoise
from tfllm.evaluation.robustness import format_table
from tfllm.evaluation.robustness import homophone_groups
from tfllm.evaluation.robustness import robustness_check
from tfllm.evaluation.robustness import typo


class Scripted:
    """A `random.Random` stand-in that returns scripted picks."""

    def __init__(self, picks):
        self.picks = list(picks)

    def choice(self, seq):
        return seq[self.picks.pop(0)]

    def randrange(self, start, stop):
        return self.picks.pop(0)


def test_each_typo_kind_by_hand():
    assert typo("word", Scripted([0, 0])) == "wrod"  # swap o, r
    assert typo("word", Scripted([1, 0])) == "wrd"  # drop o
    assert typo("word", Scripted([2, 2, 0])) == "woard"  # insert a at 2
    assert typo("WORD", Scripted([3, 0, 0])) == "WIRD"  # o -> i (keyboard)
    assert robustness.KEYBOARD_NEIGHBOURS["s"] == "adewxz"
    # "aaa" has no swap of two different letters: drop, insert, keyboard.
    assert typo("aaa", Scripted([0, 0])) == "aa"


def test_typos_stay_inside_words_at_the_rate():
    noise = TypoNoise(rate=0.3)
    words = ["Zorbex", "investors", "Lyon", "a", "of", "15", ".", "U.S."]
    rng, stats = random.Random(7), NoiseStats()
    for _ in range(400):
        noisy = noise.noise_words(words, rng, stats)
        assert len(noisy) == len(words)
        for clean, new in zip(words, noisy):
            assert " " not in new and new[0] == clean[0]
            assert new[-1] == clean[-1] and abs(len(new) - len(clean)) <= 1
        assert noisy[3:] == words[3:]  # fewer than 3 letters: untouched
    assert stats.eligible == 3 * 400
    assert abs(stats.rate - 0.3) < 0.04
    same = [TypoNoise(0.5).noise_text("several investors again",
                                      random.Random(3), NoiseStats())
            for _ in range(2)]
    assert same[0] == same[1] != "several investors again"


def test_homophones_share_pinyin_and_tone():
    groups = homophone_groups("中忠国京竟ab中")
    assert groups == {"中": ["忠"], "忠": ["中"]}  # zhong1; guo2 alone
    assert homophone_groups("京竟", tone=False) == {"京": ["竟"],
                                                   "竟": ["京"]}
    noise = HomophoneNoise(rate=1.0)
    noise.prepare(None, ["中国", "忠"])  # no vocabulary: the data's chars
    stats = NoiseStats()
    assert noise.noise_words(["中", "国", "人"], random.Random(0),
                             stats) == ["忠", "国", "人"]
    assert (stats.eligible, stats.changed) == (1, 1)


def test_homophone_rate_and_seed():
    noise = HomophoneNoise(rate=0.25)
    noise.table = {"中": ["忠", "钟"]}
    rng, stats = random.Random(1), NoiseStats()
    outputs = [noise.noise_text("中国" * 10, rng, stats)
               for _ in range(200)]
    assert stats.eligible == 2000 and abs(stats.rate - 0.25) < 0.03
    assert all(len(o) == 20 and o[1::2] == "国" * 10 for o in outputs)
    assert {c for o in outputs for c in o[::2]} == {"中", "忠", "钟"}


def test_traditional_and_simplified_are_one_for_one():
    pytest.importorskip("opencc")
    stats = NoiseStats()
    s2t = ScriptNoise("s2t", rate=1.0)
    assert s2t.noise_text("东国", random.Random(0), stats) == "東國"
    # OpenCC converts by phrase: 发 is 髮 in 头发 and 發 in 发展.
    assert s2t.noise_words(["头", "发", "发", "展"], random.Random(0),
                           stats) == ["頭", "髮", "發", "展"]
    assert ScriptNoise("t2s", rate=1.0).noise_words(
        ["國", "人"], random.Random(0), NoiseStats()) == ["国", "人"]
    none = ScriptNoise("s2t", rate=0.0)
    assert none.noise_text("东国", random.Random(0), NoiseStats()) == "东国"
    assert s2t.name == "traditional"


@pytest.fixture(scope="module")
def ner_model():
    from tiny import tiny_token_classifier

    return tiny_token_classifier(sequence_length=24)


def test_ner_check_clean_score_is_evaluates(ner_model):
    data = [(SENTENCE_A, TAGS_A), (SENTENCE_B, TAGS_B)]
    result = robustness_check(ner_model, data, ["typo"], rate=1.0, seed=0)
    assert result["clean"]["entity_f1"] == ner_model.evaluate(data)["f1"]
    row = result["noise"]["typo"]
    # Letter runs of 3+ letters: 12 in sentence A, 3 in B; all changed.
    assert (row["eligible"], row["changed"]) == (15, 15)
    assert row["drop"]["entity_f1"] == pytest.approx(
        result["clean"]["entity_f1"] - row["scores"]["entity_f1"])
    assert "typo" in format_table(result)


def test_chinese_noise_keeps_tags_aligned():
    from tiny import casing_rule_classifier

    model = casing_rule_classifier()
    data = [(list("我在东京的银行工作"),
             ["O", "O", "B-LOC", "I-LOC", "O", "B-ORG", "I-ORG", "O", "O"]),
            (list("公司"), ["B-ORG", "I-ORG"])]
    # The tags follow casing classes only, so a homophone (工 <-> 公,
    # gong1) or a traditional character (東, 銀) must not change the score.
    result = robustness_check(model, data, ["homophone", "traditional"],
                              rate=1.0)
    for name in ("homophone", "traditional"):
        assert result["noise"][name]["drop"]["entity_f1"] == 0.0
    assert result["noise"]["homophone"]["changed"] == 2
    assert result["noise"]["traditional"]["changed"] == 2
    task, sentences = robustness._task_and_data(model, data)
    noisy, _ = task.perturb_data(sentences, ScriptNoise("s2t", 1.0),
                                 random.Random(0))
    assert noisy[0].words == list("我在東京的銀行工作")
    assert noisy[0].tags == data[0][1]


def test_classification_check_and_the_registry(monkeypatch):
    from tiny import tiny_text_classifier

    from tfllm.data.text_files import TextExample

    model = tiny_text_classifier()
    data = [TextExample(t, g) for t, g in zip(CLS_TEXTS, CLS_GOLD)]
    calls = []

    class Fixed(robustness.Perturbation):
        """A model-level perturbation: overrides `evaluate`."""

        def evaluate(self, model, task, data, seed):
            calls.append((self.rate, len(data), seed))
            return {"accuracy": 0.25, "macro_f1": 0.5}, NoiseStats()

    monkeypatch.setitem(robustness.PERTURBATIONS, "fixed", Fixed)
    result = robustness_check(model, data, ["typo", "fixed"], rate=0.5,
                              seed=3)
    report = model.evaluate(data)
    assert result["clean"] == {"accuracy": report["accuracy"],
                               "macro_f1": report["macro_f1"]}
    assert calls == [(0.5, 8, 3)]
    assert result["noise"]["fixed"]["drop"]["accuracy"] == pytest.approx(
        report["accuracy"] - 0.25)
    with pytest.raises(ValueError, match="already registered"):
        robustness.register_perturbation("typo", TypoNoise)
    with pytest.raises(ValueError, match=r"unknown noise \['tpyo'\]; "
                                         "known: .*homophone"):
        robustness_check(model, data, ["tpyo"])
    with pytest.raises(ValueError, match="rate 1.5"):
        TypoNoise(1.5)
