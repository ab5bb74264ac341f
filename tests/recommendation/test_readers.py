"""Recommendation readers: RecBole atomic files, GroupLens ml-100k, own files.

Every test writes its own tiny files; one real-data test reads the
MovieLens 100K copy in ../shared/data (skipped when absent).
"""

import json

import numpy as np
import pytest

from tfllm.data import locate
from tfllm.data.errors import DataFormatError
from tfllm.data.locate import DatasetNotFoundError
from tfllm.recommendation.readers import item_text
from tfllm.recommendation.readers import load_recommendation_dataset
from tfllm.recommendation.readers import read_atomic
from tfllm.recommendation.readers import read_interactions
from tfllm.recommendation.readers import read_ml100k

ITEM = ("item_id:token\tmovie_title:token_seq\trelease_year:token\t"
        "class:token_seq\n"
        "10\tToy Story\t1995\tAnimation Children's Comedy\n"
        "20\tUsual Suspects, The\t1995\tCrime Thriller\n"
        "30\tunkonwn\tunkonwn\tunknown\n")
USER = ("user_id:token\tage:token\tgender:token\n"
        "7\t24\tM\n"
        "5\t53\tF\n")
INTER = ("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
         "5\t20\t4\t900\n"
         "9\t10\t3\t800\n"
         "7\t30\t5\t700\n")


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def atomic(folder, inter=INTER, item=ITEM, user=USER, name="toy"):
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / f"{name}.inter", inter)
    write(folder / f"{name}.item", item)
    if user is not None:
        write(folder / f"{name}.user", user)
    return folder


def test_item_text_rules():
    assert item_text({"title": "Toy Story", "year": "1995",
                      "genres": ["Animation", "Children's", "Comedy"]}) == (
        "Toy Story (1995). Genres: Animation, Children's, Comedy.")
    # A year that is not a number is left out, and not written twice.
    assert item_text({"title": "unkonwn", "year": "unkonwn",
                      "genres": ["unknown"]}) == "unkonwn. Genres: unknown."
    assert item_text({"title": "Land (1995)", "year": "1995"}) == (
        "Land (1995).")
    # Generic items: the name first, then "Field name: value" pieces.
    assert item_text({"colour": " dark\n red ", "Name": "Mug!",
                      "list_price": "4.99", "tags": [], "note": None}) == (
        "Mug! Colour: dark red. List price: 4.99.")
    assert item_text({"product_title": "Lamp", "text": "Bright."}) == (
        "Bright. Product title: Lamp.")
    assert item_text({"year": "1995"}) == "Year: 1995."
    assert item_text({}) == ""


def test_read_atomic_folder_and_prefix(tmp_path):
    folder = atomic(tmp_path / "toy")
    data = read_atomic(folder)
    assert data.item_ids == ["10", "20", "30"]
    assert data.item_texts == [
        "Toy Story (1995). Genres: Animation, Children's, Comedy.",
        "Usual Suspects, The (1995). Genres: Crime, Thriller.",
        "unkonwn. Genres: unknown."]
    assert data.item_fields == {
        "title": ["Toy Story", "Usual Suspects, The", "unkonwn"],
        "year": ["1995", "1995", "unkonwn"],
        "genres": ["Animation Children's Comedy", "Crime Thriller",
                   "unknown"]}
    # Users file order, then user 9 (only in the interactions) appended.
    assert data.user_ids == ["7", "5", "9"]
    assert data.user_features == {"age": ["24", "53", ""],
                                  "gender": ["M", "F", ""]}
    assert data.users.tolist() == [1, 2, 0]
    assert data.items.tolist() == [2, 1, 3]
    assert data.timestamps.tolist() == [900.0, 800.0, 700.0]
    assert data.ratings.dtype == np.float32
    assert data.ratings.tolist() == [4.0, 3.0, 5.0]
    assert data.skipped == {} and data.item_title(2) == "Usual Suspects, The"
    again = read_atomic(folder / "toy")
    assert again.items.tolist() == [2, 1, 3]
    assert read_atomic(folder / "toy.inter").source == str(folder / "toy")


def test_read_atomic_without_users_rating_or_time(tmp_path):
    folder = atomic(tmp_path / "toy", user=None,
                    inter="user_id:token\titem_id:token\n"
                          "b\t30\n\na\t10\nb\t10\n")
    data = read_atomic(folder)
    assert data.user_ids == ["b", "a"] and data.user_features == {}
    assert data.users.tolist() == [0, 1, 0]
    assert data.items.tolist() == [3, 1, 1]
    assert data.ratings is None
    assert data.timestamps.tolist() == [0.0, 1.0, 2.0]  # row order


def test_unknown_items_raise_with_line_and_count(tmp_path):
    inter = INTER + "7\t99\t1\t1\n5\t10\t2\t2\n9\t98\t1\t3\n7\t99\t2\t4\n"
    folder = atomic(tmp_path / "toy", inter=inter)
    with pytest.raises(DataFormatError) as error:
        read_atomic(folder)
    message = str(error.value)
    assert message.startswith(f"{folder / 'toy.inter'}:5: item id '99'")
    assert "3 interaction row(s) in the file name 2 unknown item id(s) " \
           "('98', '99'; lines 5, 7, 8)" in message
    assert "skip_bad_rows=True" in message
    # A later row of another kind still reports the earlier unknown item.
    folder = atomic(tmp_path / "toy2", inter=INTER + "7\t99\t1\t1\n"
                    "5\t10\tfive\t2\n")
    with pytest.raises(DataFormatError, match=r"toy\.inter:5: item id '99'.*"
                       r"before line 6"):
        read_atomic(folder)


def test_skip_bad_rows_counts_every_left_out_row(tmp_path):
    inter = INTER + "7\t99\t1\t1\n5\t10\tfive\t2\n5\t10\t2\n9\t10\t1\tnan\n"
    folder = atomic(tmp_path / "toy", inter=inter)
    data = read_atomic(folder, skip_bad_rows=True)
    assert data.num_interactions == 3
    path = str(folder / "toy.inter")
    assert data.skipped["skipped_rows"] == 4
    assert data.skipped["unknown_item_rows"] == 1
    assert data.skipped["per_file"] == {path: 4}
    assert [(r["line"], r["reason"]) for r in data.skipped["rows"]] == [
        (5, f"item id '99' is not in the items file {folder / 'toy.item'}"),
        (6, "rating 'five' is not a number; expected a finite number"),
        (7, "3 fields, expected 4 as in the header (tab-separated)"),
        (8, "timestamp 'nan' is not a number; expected a finite number")]


@pytest.mark.parametrize("inter, item, where, expected", [
    (INTER + "5\t10\tfive\t2\n", ITEM, "toy.inter:5",
     "rating 'five' is not a number"),
    (INTER + "5\t10\t2\t2020-01-01\n", ITEM, "toy.inter:5",
     "timestamp '2020-01-01' is not a number"),
    (INTER + "5\t10\t2\n", ITEM, "toy.inter:5", "3 fields, expected 4"),
    ("user:token\titem_id:token\n5\t10\n", ITEM, "toy.inter:1",
     "no column 'user_id'"),
    (INTER, ITEM + "20\tCopy\t1995\tDrama\n", "toy.item:5",
     "item id '20' is listed twice (lines 3 and 5)"),
    (INTER, "", "toy.item", "the file is empty"),
    (" \n", ITEM, "toy.inter", "the file is empty"),
])
def test_atomic_format_errors_name_file_and_line(
        tmp_path, inter, item, where, expected):
    folder = atomic(tmp_path / "toy", inter=inter, item=item)
    with pytest.raises(DataFormatError) as error:
        read_atomic(folder)
    assert str(error.value).startswith(f"{folder / where}: ")
    assert expected in str(error.value)


def test_wrong_encoding_and_missing_files(tmp_path):
    folder = atomic(tmp_path / "toy")
    write(folder / "toy.item", ITEM + "40\tMisérables, Les\t1995\tDrama\n",
          "latin-1")
    with pytest.raises(DataFormatError, match=r"toy\.item:5: not valid "
                       r"utf-8 \(byte 0xe9\).*encoding='latin-1'"):
        read_atomic(folder)
    data = read_atomic(folder, encoding="latin-1")
    assert data.item_texts[3] == "Misérables, Les (1995). Genres: Drama."
    atomic(folder, name="other")
    with pytest.raises(DatasetNotFoundError, match="other.inter, toy.inter"):
        read_atomic(folder)
    (folder / "other.item").unlink()
    with pytest.raises(DatasetNotFoundError, match="other.item not found"):
        read_atomic(folder / "other")


U_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://x?Toy|0|0|0|1|1|1|0|0|0|0|0|0|0|"
    "0|0|0|0|0|0\n"
    "2|Misérables, Les (1995)|01-Jan-1995||http://x?Mis|0|0|0|0|0|0|0|0|1|0|"
    "0|0|1|0|0|0|0|0|0\n"
    "3|Land Before Time III (1995) (V)|01-Jan-1995||u|0|0|0|1|1|0|0|0|0|0|0|"
    "0|0|0|0|0|0|0|0\n"
    "4|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n")
U_USER = "1|24|M|technician|85711\n2|53|F|other|T8H1N\n"
U_DATA = "2\t1\t5\t881250949\n1\t3\t4\t881250950\n3\t4\t1\t881250951\n"


def ml100k(folder, item=U_ITEM, data=U_DATA):
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / "u.item", item, "latin-1")
    write(folder / "u.user", U_USER)
    write(folder / "u.data", data)
    return folder


def test_read_ml100k_grouplens_layout(tmp_path):
    data = read_ml100k(ml100k(tmp_path / "ml"))
    assert data.item_ids == ["1", "2", "3", "4"]
    assert data.item_fields["title"] == [
        "Toy Story", "Misérables, Les", "Land Before Time III (V)", "unknown"]
    assert data.item_fields["year"] == ["1995", "1995", "1995", ""]
    assert data.item_fields["genres"] == [
        "Animation Children's Comedy", "Drama Musical",
        "Animation Children's", "unknown"]
    assert data.item_fields["imdb_url"][0] == "http://x?Toy"
    assert data.item_texts == [
        "Toy Story (1995). Genres: Animation, Children's, Comedy.",
        "Misérables, Les (1995). Genres: Drama, Musical.",
        "Land Before Time III (V) (1995). Genres: Animation, Children's.",
        "unknown. Genres: unknown."]
    assert data.user_ids == ["1", "2", "3"]
    assert data.user_features["zip_code"] == ["85711", "T8H1N", ""]
    assert data.users.tolist() == [1, 0, 2]
    assert data.items.tolist() == [1, 3, 4]
    assert data.ratings.tolist() == [5.0, 4.0, 1.0]
    assert data.timestamps[0] == 881250949.0


def test_read_ml100k_bad_rows(tmp_path):
    folder = ml100k(tmp_path / "ml", data=U_DATA + "1\t9\t3\t1\n")
    with pytest.raises(DataFormatError, match=r"u\.data:4: item id '9' is not "
                       r"in the items file .*u\.item; 1 interaction row"):
        read_ml100k(folder)
    folder = ml100k(tmp_path / "ml2",
                    item=U_ITEM + "5|Short (1990)|x|0|1\n")
    with pytest.raises(DataFormatError, match=r"u\.item:5: 5 fields, expected "
                       "24 \\(the GroupLens u.item layout"):
        read_ml100k(folder)
    data = read_ml100k(folder, skip_bad_rows=True)
    assert (data.num_items, data.skipped["skipped_rows"]) == (4, 1)
    with pytest.raises(DatasetNotFoundError, match="no u.data, u.item"):
        read_ml100k(tmp_path)


def test_read_interactions_csv_tsv_jsonl(tmp_path):
    items = write(tmp_path / "items.csv",
                  'item_id,title,description,price\n'
                  'm1,"Mug, red","A mug\nfor tea",4\n'
                  'l2,Lamp,,12\n')
    inter = write(tmp_path / "events.csv",
                  "user_id,item_id,timestamp\nu1,l2,20\nu2,m1,10\nu1,m1,30\n")
    data = read_interactions(inter, items)
    assert data.item_texts == [
        "Mug, red. Description: A mug for tea. Price: 4.",
        "Lamp. Price: 12."]
    assert data.item_fields["description"] == ["A mug\nfor tea", ""]
    assert data.user_ids == ["u1", "u2"]
    assert data.users.tolist() == [0, 1, 0]
    assert data.items.tolist() == [2, 1, 1]
    assert data.timestamps.tolist() == [20.0, 10.0, 30.0]
    assert data.ratings is None
    # text_fields picks (and orders) the text; item_fields keeps every column.
    data = read_interactions(inter, items, text_fields=["price", "title"])
    assert data.item_texts == ["Mug, red. Price: 4.", "Lamp. Price: 12."]
    assert list(data.item_fields) == ["title", "description", "price"]
    # TSV with other column names, a users file, ratings, no timestamps.
    tsv = write(tmp_path / "ratings.tsv", "who\twhat\tstars\nu9\tl2\t4.5\n"
                "u1\tm1\t2\n")
    users = write(tmp_path / "users.tsv", "who\tcountry\nu1\tFR\n")
    items_tsv = write(tmp_path / "items.tsv", "what\tname\nl2\tLamp\n"
                      "m1\tMug\n")
    data = read_interactions(tsv, items_tsv, users, user_col="who",
                             item_col="what", rating_col="stars")
    assert data.user_ids == ["u1", "u9"]
    assert data.user_features == {"country": ["FR", ""]}
    assert data.users.tolist() == [1, 0] and data.items.tolist() == [1, 2]
    assert data.ratings.tolist() == [4.5, 2.0]
    assert data.timestamps.tolist() == [0.0, 1.0]
    # JSON Lines: lists of tokens, numbers, keys that only some items have.
    items_jsonl = tmp_path / "items.jsonl"
    items_jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"item_id": 1, "title": "Lamp", "tags": ["home", "light"]},
        {"item_id": 2, "title": "Mug", "colour": "red"}]) + "\n")
    inter_jsonl = write(tmp_path / "events.jsonl",
                        '{"user_id": "a", "item_id": 2, "rating": 5}\n\n'
                        '{"user_id": "a", "item_id": 1, "rating": 3}\n')
    data = read_interactions(inter_jsonl, items_jsonl)
    assert data.item_ids == ["1", "2"]
    assert data.item_texts == ["Lamp. Tags: home, light.",
                               "Mug. Colour: red."]
    assert data.item_fields == {"title": ["Lamp", "Mug"],
                                "tags": ["home, light", ""],
                                "colour": ["", "red"]}
    assert data.items.tolist() == [2, 1] and data.ratings.tolist() == [5, 3]


def test_read_interactions_errors(tmp_path):
    items = write(tmp_path / "items.csv", "item_id,title\nm1,Mug\n")
    inter = write(tmp_path / "events.csv",
                  "user_id,item_id\nu1,m1\nu2,zz\nu3,m1,extra\n")
    with pytest.raises(DataFormatError, match=r"events\.csv:3: item id 'zz' "
                       r"is not in the items file .*items\.csv.*before line"
                       " 4"):
        read_interactions(inter, items)
    data = read_interactions(inter, items, skip_bad_rows=True)
    assert data.num_interactions == 1
    assert [r["line"] for r in data.skipped["rows"]] == [3, 4]
    with pytest.raises(DataFormatError, match=r"events\.csv:1: no time "
                       r"column 'when'"):
        read_interactions(inter, items, time_col="when")
    with pytest.raises(DataFormatError, match=r"i2\.csv:1: no column "
                       r"'item_id'.*rename the header"):
        read_interactions(inter, write(tmp_path / "i2.csv", "id,title\n1,A\n"))
    with pytest.raises(DataFormatError, match=r"items\.csv:1: no text field "
                       "'genre'"):
        read_interactions(inter, items, text_fields=["genre"])
    bad_json = write(tmp_path / "e.jsonl", '{"user_id": "u", "item_id": '
                     '"m1"}\n{"user_id": "u"}\n[1]\n')
    with pytest.raises(DataFormatError, match=r"e\.jsonl:2: no key "
                       "'item_id'"):
        read_interactions(bad_json, items)
    with pytest.raises(DataFormatError, match=r"e\.parquet: cannot tell the "
                       "format"):
        read_interactions(tmp_path / "e.parquet", items)
    with pytest.raises(DataFormatError, match="no usable interaction rows "
                       r"\(2 bad rows skipped\)"):
        read_interactions(write(tmp_path / "z.csv",
                                "user_id,item_id\nu,q\nu,\n"),
                          items, skip_bad_rows=True)


def test_load_by_name_and_by_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TFLLM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(locate, "REPO_ROOT", tmp_path / "checkout")
    import tfllm.recommendation.readers as readers
    monkeypatch.setattr(readers, "REPO_ROOT", tmp_path / "checkout")
    with pytest.raises(DatasetNotFoundError) as error:
        load_recommendation_dataset("movielens-100k")
    message = str(error.value)
    assert f"{tmp_path}/data/movielens_100k" in message
    assert f"{tmp_path}/shared/data/movielens_100k" in message
    assert "pass data_dir" in message and "u.data" in message
    folder = atomic(tmp_path / "data" / "movielens_100k", name="ml-100k")
    assert load_recommendation_dataset("ML-100K").item_ids == ["10", "20",
                                                               "30"]
    grouplens = ml100k(tmp_path / "grouplens")
    by_dir = load_recommendation_dataset("ml-100k", data_dir=grouplens)
    assert by_dir.item_fields["title"][0] == "Toy Story"
    assert load_recommendation_dataset(grouplens).num_items == 4
    assert load_recommendation_dataset(str(folder)).num_users == 3
    assert load_recommendation_dataset(folder / "ml-100k").num_items == 3
    with pytest.raises(DatasetNotFoundError, match=r"data_dir \(--data-dir\) "
                       f"{tmp_path} has neither the RecBole files"):
        load_recommendation_dataset("movielens-100k", data_dir=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="neither a known dataset"):
        load_recommendation_dataset("movielens-1m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="neither RecBole atomic"):
        load_recommendation_dataset(tmp_path / "empty")


@pytest.mark.real_data
def test_real_movielens_100k():
    try:
        data = load_recommendation_dataset("movielens-100k")
    except DatasetNotFoundError:
        pytest.skip("movielens_100k not found (../shared/data or "
                    "TFLLM_DATA_DIR)")
    # SOURCE.md: 100,000 ratings by 943 users of 1,682 movies.
    assert (data.num_interactions, data.num_users, data.num_items) == (
        100000, 943, 1682)
    assert data.item_texts[data.item_index("1") - 1].startswith(
        "Toy Story (1995)")
    assert data.item_texts[0] == (
        "Toy Story (1995). Genres: Animation, Children's, Comedy.")
    # Quirks kept: year "V" left out of the text, "unkonwn" as written, the
    # 18 duplicated movies stay two items each.
    assert data.item_texts[1411].startswith(
        "Land Before Time III: The Time of the Great Giving (1995). Genres")
    assert data.item_title(267) == "unkonwn"
    assert data.item_texts[245] == data.item_texts[267]  # Chasing Amy
    assert sum("Drama" in g.split() for g in data.item_fields["genres"]) == 725
    assert np.bincount(data.ratings.astype(int)).tolist() == [
        0, 6110, 11370, 27145, 34174, 21201]
    assert (data.timestamps.min(), data.timestamps.max()) == (
        874724710, 893286638)
    assert data.users[0] == data.user_index("196") == 195
