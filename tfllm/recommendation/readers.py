"""Readers for recommendation data: items with text, users, interactions.

Three layouts are read, each into a `tfllm.recommendation.dataset.RecDataset`:

- RecBole atomic files (`read_atomic`): `<name>.inter`, `<name>.item` and
  an optional `<name>.user`, tab-separated with `name:type` headers. The
  MovieLens 100K copy in `../shared/data/movielens_100k` has this layout.
- The original GroupLens MovieLens 100K release (`read_ml100k`): `u.data`,
  `u.item` (`|`-separated, Latin-1) and `u.user`.
- Your own files (`read_interactions`): CSV, TSV or JSON Lines.

`load_recommendation_dataset` reads a known dataset by name, or a folder in
either of the first two layouts.

Rules shared by every reader:

- Items are numbered from 1 in the order of the items file (index 0 pads
  history sequences). Users are numbered from 0 in the order of the users
  file; users that appear only in the interactions are appended in the
  order they are first seen (with empty features), and without a users file
  the first-seen order is the order.
- Interactions keep file order. Without a time column the timestamp of an
  interaction is its position (0, 1, 2, ...) among the rows kept.
- Nothing is dropped silently. A bad row (wrong number of fields, an empty
  id, a rating or timestamp that is not a finite number, an interaction
  whose item is not in the items file) raises `DataFormatError` whose
  message starts with `path:line:`, or, with `skip_bad_rows=True`, is left
  out and counted in `RecDataset.skipped` (`BadRows.summary()` plus
  `unknown_item_rows`). An interaction whose item is unknown is reported
  with the count of all such rows in the file. An empty file, a missing
  required column, undecodable bytes and an item or user id listed twice
  always raise.
- Fields are stripped of surrounding whitespace; blank lines are ignored.
  Lines are split on `\\n` only (a `\\x85` byte read as Latin-1 is a
  character, not a line break), so line numbers match an editor's.

The item tower reads `RecDataset.item_texts`, built by `item_text`.
"""

import csv
import io
import json
import math
import os
import pathlib
import re

import numpy as np

from tfllm.data.bad_rows import BadRows
from tfllm.data.errors import DataFormatError
from tfllm.data.text_files import _decode as decode_text
from tfllm.data.locate import REPO_ROOT
from tfllm.data.locate import DatasetNotFoundError
from tfllm.data.locate import find_dataset_dir
from tfllm.recommendation.dataset import RecDataset

# Genre flag columns of the GroupLens u.item, in file order.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
# Names `load_recommendation_dataset` knows, and their data folder.
KNOWN_DATASETS = {"movielens-100k": "movielens_100k",
                  "ml-100k": "movielens_100k"}
# RecBole's MovieLens item columns, renamed so that every MovieLens layout
# gives the same `item_fields` (a name already in the file is kept).
ATOMIC_ITEM_ALIASES = {"movie_title": "title", "release_year": "year",
                       "class": "genres"}
_TITLE_KEYS = ("title", "name", "text")
_TITLE_SUFFIXES = ("_title", "_name")
# "Toy Story (1995)", "Land Before Time III: ... (1995) (V)".
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)((?:\s*\([^()]*\))*)\s*$")
_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
            ".json": "jsonl"}


# ----------------------------------------------------------------------------
# Item text


def item_text(fields):
    """The text the item tower reads for one item, built from its fields.

    The rule, applied in this order:

    1. The name of the item comes first: the field called `title`, else
       `name`, else `text` (case-insensitive), else the first field whose
       name ends in `_title` or `_name`. A list value is joined with spaces.
    2. When there is a name, a `year` field is put after it in parentheses
       if it is a number (`"Toy Story (1995)"`) and the name does not end
       with it already; a year that is not a number (MovieLens has `V` and
       `unkonwn`) is left out.
    3. Every other non-empty field follows as `"Field name: value"`, in
       the order of `fields`: underscores become spaces, the first letter
       is upper-cased, and a list value is joined with `", "`.
    4. Each piece ends with a period (unless it ends in `.`, `!` or `?`
       already); pieces are joined with one space. Runs of whitespace
       inside a value become one space. Empty values (None, `""`, `[]`)
       are skipped; no fields give `""`.

    Args:
        fields: mapping of str to str, list of str, or None. One item's
            fields, without its id, in the order they should appear.

    Returns:
        str.

    Examples:
    ```python
    item_text({"title": "Toy Story", "year": "1995",
               "genres": ["Animation", "Children's", "Comedy"]})
    # "Toy Story (1995). Genres: Animation, Children's, Comedy."
    item_text({"name": "Red mug", "colour": "red", "list_price": "4.99"})
    # "Red mug. Colour: red. List price: 4.99."
    ```
    """
    keys = list(fields)
    pieces = []
    title_key = _title_key(keys)
    if title_key is not None:
        keys.remove(title_key)
        head = _value_text(fields[title_key], " ")
        if "year" in keys:
            keys.remove("year")
            year = _value_text(fields["year"], " ")
            if (head and re.fullmatch(r"[0-9]+", year)
                    and not head.endswith(f"({year})")):
                head = f"{head} ({year})"
        if head:
            pieces.append(head)
    for key in keys:
        value = _value_text(fields[key], ", ")
        if value:
            label = " ".join(str(key).replace("_", " ").split())
            pieces.append(f"{label[:1].upper()}{label[1:]}: {value}")
    return " ".join(p if p.endswith((".", "!", "?")) else p + "."
                    for p in pieces)


def _title_key(keys):
    lower = {str(k).lower(): k for k in reversed(keys)}
    for name in _TITLE_KEYS:
        if name in lower:
            return lower[name]
    for key in keys:
        if str(key).lower().endswith(_TITLE_SUFFIXES):
            return key
    return None


def _value_text(value, list_joiner):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        parts = (" ".join(str(v).split()) for v in value)
        return list_joiner.join(p for p in parts if p)
    return " ".join(str(value).split())


# ----------------------------------------------------------------------------
# Public readers


def read_atomic(folder_or_prefix, skip_bad_rows=False, encoding="utf-8"):
    """Reads RecBole atomic files `<name>.inter`, `.item` and `.user`.

    Each file is tab-separated with one header row of `name:type` fields
    (`user_id:token`, `rating:float`, `class:token_seq`, ...); the `:type`
    part is dropped from the column name (a header without types works
    too).

    - `<name>.inter` needs `user_id` and `item_id`; `rating` and
      `timestamp` are read when present (numbers); other columns are
      ignored.
    - `<name>.item` needs `item_id`; every other column becomes an item
      field. `token_seq` columns are space-separated token lists (genres
      in `class`) and are joined with `", "` in the item text, except the
      item's name (a title is not split). RecBole's MovieLens columns are
      renamed `movie_title` -> `title`, `release_year` -> `year`,
      `class` -> `genres` (`ATOMIC_ITEM_ALIASES`); `item_fields` keeps
      each value as the file writes it.
    - `<name>.user` (optional) needs `user_id`; every other column becomes
      a user feature.

    Args:
        folder_or_prefix: str or path. A folder holding exactly one
            `*.inter` file, or the path prefix of the files
            (`data/ml-100k` for `data/ml-100k.inter`; a path ending in
            `.inter` works too).
        skip_bad_rows: bool. Leave bad rows out and count them in
            `skipped` instead of raising. Default False.
        encoding: str. Text encoding of the files. Default UTF-8 (a
            byte-order mark is skipped).

    Returns:
        `RecDataset`: `item_texts` from `item_text`, `ratings` float32 or
        None, `timestamps` float64 (Unix seconds in RecBole's files),
        `source` the path prefix.

    Raises:
        DatasetNotFoundError: no `*.inter` (or several) in the folder, or no
            `.inter`/`.item` file at the prefix.
        DataFormatError: empty file, missing column, undecodable bytes,
            duplicate item or user id, or (without skipping) a bad row or an
            interaction with an item id not in `<name>.item`; the message
            starts with `path:line:`.
    """
    prefix = _atomic_prefix(folder_or_prefix)
    inter_path = prefix.with_name(prefix.name + ".inter")
    item_path = prefix.with_name(prefix.name + ".item")
    user_path = prefix.with_name(prefix.name + ".user")
    if not item_path.is_file():
        raise DatasetNotFoundError(
            f"{item_path} not found: RecBole atomic data needs an items file "
            f"next to {inter_path.name} (item_id plus item columns)")
    bad = BadRows(skip=skip_bad_rows)

    columns, types, rows = _read_atomic_file(
        item_path, encoding, bad, ("item_id",), "a RecBole .item file")
    names = [ATOMIC_ITEM_ALIASES.get(c, c)
             if ATOMIC_ITEM_ALIASES.get(c, c) not in columns else c
             for c in columns]
    field_columns = [(c, n, types[c]) for c, n in zip(columns, names)
                     if c != "item_id"]

    def item_records():
        for line, row in rows:
            stored, text = {}, {}
            for column, name, kind in field_columns:
                stored[name] = row[column]
                split = (kind == "token_seq"
                         and _title_key([name]) is None)
                text[name] = row[column].split() if split else row[column]
            yield line, row["item_id"], stored, text

    items = _Items(item_path, item_records(), bad)
    users = _Users()
    if user_path.is_file():
        columns, _, rows = _read_atomic_file(
            user_path, encoding, bad, ("user_id",), "a RecBole .user file")
        users.read(user_path, ((line, row["user_id"],
                                {c: row[c] for c in columns
                                 if c != "user_id"}) for line, row in rows),
                   bad)
    guard = _Guard(bad, inter_path, item_path)
    columns, _, rows = _read_atomic_file(
        inter_path, encoding, guard, ("user_id", "item_id"),
        "a RecBole .inter file")
    return _build(
        str(prefix), rows, items, users, guard, "user_id", "item_id",
        "rating" if "rating" in columns else None,
        "timestamp" if "timestamp" in columns else None)


def read_ml100k(folder, skip_bad_rows=False, encoding="latin-1"):
    """Reads the GroupLens MovieLens 100K files `u.data`, `u.item`, `u.user`.

    - `u.data`: `user id<TAB>item id<TAB>rating<TAB>timestamp`, no header.
    - `u.item`: `|`-separated, no header, 24 fields: `movie id | movie
      title | release date | video release date | IMDb URL |` and 19 genre
      flags (0/1) in the order of `ML100K_GENRES`. The year is split off
      the title: `"Toy Story (1995)"` gives title `Toy Story` and year
      `1995` (`"... (1995) (V)"` keeps `(V)` in the title); a title without
      a year (item 267, `unknown`) gets an empty year.
    - `u.user` (optional): `user id | age | gender | occupation | zip code`.

    `item_fields` has `title`, `year`, `genres` (the flagged genre names,
    space-separated, as RecBole's `class` column), `release_date`,
    `video_release_date` and `imdb_url`; the item text uses title, year
    and genres only (`"Toy Story (1995). Genres: Animation, Children's,
    Comedy."`). `user_features` has `age`, `gender`, `occupation`,
    `zip_code`.

    Args:
        folder: str or path. The folder with the three files.
        skip_bad_rows: bool. Leave bad rows out and count them in
            `skipped` instead of raising. Default False.
        encoding: str. Text encoding of the files. Default Latin-1, the
            release's encoding (`u.data` and `u.user` are ASCII).

    Returns:
        `RecDataset` with float32 `ratings` and Unix-second `timestamps`.

    Raises:
        DatasetNotFoundError: `u.data` or `u.item` is missing.
        DataFormatError: empty file, a row with the wrong number of fields,
            a genre flag other than 0/1, a duplicate id, or (without
            skipping) a bad row or an unknown item id in `u.data`; the
            message starts with `path:line:`.
    """
    folder = pathlib.Path(folder)
    data_path, item_path, user_path = (folder / "u.data", folder / "u.item",
                                       folder / "u.user")
    missing = [p.name for p in (data_path, item_path) if not p.is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{folder}: no {', '.join(missing)}; expected the GroupLens "
            "MovieLens 100K files u.data, u.item (and u.user) there")
    bad = BadRows(skip=skip_bad_rows)
    item_columns = ("item_id", "title_year", "release_date",
                    "video_release_date", "imdb_url") + ML100K_GENRES
    rows = _read_plain(item_path, "|", encoding, bad, item_columns,
                       "the GroupLens u.item layout: id|title (year)|release "
                       "date|video release date|URL|19 genre flags")

    def item_records():
        for line, row in rows:
            flags = [row[g] for g in ML100K_GENRES]
            if any(f not in ("0", "1") for f in flags):
                bad.report(item_path, line,
                           f"genre flags {'|'.join(flags)}; expected 19 "
                           "flags of 0 or 1")
                continue
            title, year = _split_title_year(row["title_year"])
            genres = [g for g, f in zip(ML100K_GENRES, flags) if f == "1"]
            stored = {"title": title, "year": year,
                      "genres": " ".join(genres),
                      "release_date": row["release_date"],
                      "video_release_date": row["video_release_date"],
                      "imdb_url": row["imdb_url"]}
            text = {"title": title, "year": year, "genres": genres}
            yield line, row["item_id"], stored, text

    items = _Items(item_path, item_records(), bad)
    users = _Users()
    if user_path.is_file():
        user_columns = ("user_id", "age", "gender", "occupation", "zip_code")
        rows = _read_plain(user_path, "|", encoding, bad, user_columns,
                           "the GroupLens u.user layout: "
                           "id|age|gender|occupation|zip code")
        users.read(user_path, ((line, row["user_id"],
                                {c: row[c] for c in user_columns[1:]})
                               for line, row in rows), bad)
    guard = _Guard(bad, data_path, item_path)
    rows = _read_plain(data_path, "\t", encoding, guard,
                       ("user_id", "item_id", "rating", "timestamp"),
                       "the GroupLens u.data layout: "
                       "user id<TAB>item id<TAB>rating<TAB>timestamp")
    return _build(str(folder), rows, items, users, guard, "user_id",
                  "item_id", "rating", "timestamp")


def read_interactions(
    interactions_path,
    items_path,
    users_path=None,
    user_col="user_id",
    item_col="item_id",
    time_col="timestamp",
    rating_col="rating",
    text_fields=None,
    skip_bad_rows=False,
    encoding="utf-8",
):
    """Reads your own interactions, items (and users) from CSV, TSV or JSONL.

    The format of each file comes from its suffix: `.csv` (comma-separated,
    RFC 4180 quoting, header row), `.tsv` (tab-separated, no quoting,
    header row), `.jsonl` or `.json` (JSON Lines: one object per line).
    In JSON Lines a list value is a list of tokens (joined with `", "` in
    `item_fields` and in the text) and a number is read as written
    (`5`, `4.5`).

    - Interactions: one row per user-item event with `user_col` and
      `item_col`; `time_col` (a number, e.g. Unix seconds) and `rating_col`
      (a number) are optional: without a time column the row order is the
      time order, without a rating column `ratings` is None. Pass None to
      ignore a column; a name other than the default that the file does
      not have is an error (a misspelt column would otherwise be ignored).
    - Items: `item_col` plus the item's fields. All other columns are text
      fields unless `text_fields` names the ones to use (in that order);
      `item_fields` keeps every column either way.
    - Users (optional): `user_col` plus categorical features.

    Args:
        interactions_path: str or path. The interactions file.
        items_path: str or path. The items file.
        users_path: str, path or None.
        user_col: str. User id column (of the interactions and users
            files). Default `"user_id"`.
        item_col: str. Item id column (of the interactions and items
            files). Default `"item_id"`.
        time_col: str or None. Default `"timestamp"`.
        rating_col: str or None. Default `"rating"`.
        text_fields: list of str or None. Item columns for `item_text`.
        skip_bad_rows: bool. Leave bad rows out and count them in
            `skipped` instead of raising. Default False.
        encoding: str. Text encoding of all files. Default UTF-8.

    Returns:
        `RecDataset`; `source` is `interactions_path`.

    Raises:
        DataFormatError: a suffix other than those above, empty file,
            missing column, undecodable bytes, duplicate item or user id,
            or (without skipping) a bad row or an interaction with an item
            id not in the items file; the message starts with `path:line:`.
    """
    bad = BadRows(skip=skip_bad_rows)
    items_path = pathlib.Path(items_path)
    columns, rows, header_line = _read_table(
        items_path, encoding, bad, (item_col,), "an items file")
    fields = [c for c in columns if c != item_col]
    if text_fields is not None:
        text_fields = list(text_fields)
        missing = [c for c in text_fields if c not in columns]
        if missing:
            raise DataFormatError(
                items_path, header_line,
                f"no text field {', '.join(map(repr, missing))}; the items "
                f"file has {columns}")
    use = fields if text_fields is None else text_fields

    def item_records():
        for line, row in rows:
            stored = {c: _joined(row.get(c, "")) for c in fields}
            yield (line, _joined(row[item_col]), stored,
                   {c: row.get(c) for c in use})

    items = _Items(items_path, item_records(), bad)
    users = _Users()
    if users_path is not None:
        users_path = pathlib.Path(users_path)
        columns, rows, _ = _read_table(users_path, encoding, bad,
                                       (user_col,), "a users file")
        users.read(users_path, ((line, _joined(row[user_col]),
                                 {c: _joined(row.get(c, "")) for c in columns
                                  if c != user_col}) for line, row in rows),
                   bad)
    interactions_path = pathlib.Path(interactions_path)
    guard = _Guard(bad, interactions_path, items_path)
    columns, rows, header_line = _read_table(
        interactions_path, encoding, guard, (user_col, item_col),
        "an interactions file")
    optional = {}
    for what, name, default in (("time", time_col, "timestamp"),
                                ("rating", rating_col, "rating")):
        if name is not None and name not in columns:
            if name != default:
                raise DataFormatError(
                    interactions_path, header_line,
                    f"no {what} column {name!r}; the file has {columns} "
                    f"(pass {what}_col=None to do without)")
            name = None
        optional[what] = name
    return _build(str(interactions_path), rows, items, users, guard,
                  user_col, item_col, optional["rating"], optional["time"])


def load_recommendation_dataset(name_or_path, data_dir=None,
                                skip_bad_rows=False):
    """Reads a known recommendation dataset by name, or a data folder.

    Known names (`KNOWN_DATASETS`): `movielens-100k` and `ml-100k`, the
    RecBole atomic files `ml-100k.inter`, `ml-100k.item`, `ml-100k.user`
    looked for in `data_dir`, `$TFLLM_DATA_DIR/movielens_100k`, then
    `../shared/data/movielens_100k` next to the checkout. A `data_dir` with
    the GroupLens `u.data` and `u.item` instead is read with `read_ml100k`.

    Anything else is a path: a folder with one `*.inter` file (or a
    `<prefix>` / `<prefix>.inter` path) is read with `read_atomic`, a
    folder with `u.data` with `read_ml100k`.

    Args:
        name_or_path: str or path. A known name, or a folder or prefix.
        data_dir: str, path or None. The folder of a known dataset's files.
        skip_bad_rows: bool. See the readers. Default False.

    Returns:
        `RecDataset`.

    Raises:
        DatasetNotFoundError: the known dataset is in none of the places
            above, or the path is neither a known name nor a folder in a
            known layout; the message says where it looked and how to
            point at the files.
        DataFormatError: see `read_atomic` and `read_ml100k`.
    """
    key = str(name_or_path).strip().lower()
    if key in KNOWN_DATASETS:
        folder_name = KNOWN_DATASETS[key]
        required = ("ml-100k.inter", "ml-100k.item")
        if data_dir is not None:
            data_dir = pathlib.Path(data_dir)
            if _is_ml100k_folder(data_dir):
                return read_ml100k(data_dir, skip_bad_rows)
            if not all((data_dir / f).is_file() for f in required):
                raise DatasetNotFoundError(
                    f"{name_or_path}: data_dir (--data-dir) {data_dir} has "
                    f"neither the RecBole files {' and '.join(required)} nor "
                    "the GroupLens files u.data and u.item")
        folder = find_dataset_dir(folder_name, data_dir, required)
        if folder is None:
            env = os.environ.get("TFLLM_DATA_DIR")
            looked = (f"$TFLLM_DATA_DIR/{folder_name} ({env}/{folder_name})"
                      if env else f"$TFLLM_DATA_DIR/{folder_name} "
                      "(TFLLM_DATA_DIR is not set)")
            raise DatasetNotFoundError(
                f"{name_or_path}: {' and '.join(required)} not found in "
                f"{looked} or "
                f"{REPO_ROOT.parent / 'shared' / 'data' / folder_name}; "
                "pass data_dir (--data-dir) a folder with the RecBole files "
                "ml-100k.inter, ml-100k.item (and ml-100k.user) or the "
                "GroupLens files u.data, u.item (and u.user), set "
                "TFLLM_DATA_DIR to the folder above movielens_100k, or give "
                "the folder's path instead of the name")
        return read_atomic(folder / "ml-100k", skip_bad_rows)
    path = pathlib.Path(name_or_path)
    if path.is_dir():
        if sorted(path.glob("*.inter")):
            return read_atomic(path, skip_bad_rows)
        if _is_ml100k_folder(path):
            return read_ml100k(path, skip_bad_rows)
        raise DatasetNotFoundError(
            f"{path}: neither RecBole atomic files (<name>.inter, "
            "<name>.item) nor the GroupLens MovieLens files (u.data, u.item) "
            "are in this folder; for CSV/TSV/JSONL files give "
            "--interactions-file and --items-file (in Python: "
            "read_interactions)")
    if (path.suffix == ".inter" and path.is_file()) or (
            path.with_name(path.name + ".inter").is_file()):
        return read_atomic(path, skip_bad_rows)
    raise DatasetNotFoundError(
        f"{name_or_path!r} is neither a known dataset "
        f"({', '.join(KNOWN_DATASETS)}) nor a folder or RecBole file prefix "
        "that exists; give a folder with <name>.inter and <name>.item, or "
        "one with u.data and u.item")


# ----------------------------------------------------------------------------
# Building the dataset


class _Items:
    """Item ids, stored fields and texts, in file order."""

    def __init__(self, path, records, bad):
        self.path = path
        self.ids, self.texts, self.fields = [], [], {}
        self.index, first_line = {}, {}
        for line, raw_id, stored, text_fields in records:
            if not raw_id:
                bad.report(path, line, "empty item id")
                continue
            if raw_id in self.index:
                raise DataFormatError(
                    path, line, f"item id {raw_id!r} is listed twice (lines "
                    f"{first_line[raw_id]} and {line}); item ids must be "
                    "unique: merge the rows or give one a new id")
            self.index[raw_id] = len(self.ids) + 1
            first_line[raw_id] = line
            for name, value in stored.items():
                self.fields.setdefault(name, [""] * len(self.ids))
                self.fields[name].append(value)
            self.ids.append(raw_id)
            self.texts.append(item_text(text_fields))
            for values in self.fields.values():  # a JSONL key seen late
                values.extend([""] * (len(self.ids) - len(values)))
        if not self.ids:
            raise DataFormatError(path, None, "no item rows; expected one "
                                  "row per item after the header")


class _Users:
    """User ids and features: users file order, then first seen."""

    def __init__(self):
        self.ids, self.features, self.index = [], {}, {}
        self.path = None

    def read(self, path, records, bad):
        self.path, first_line = path, {}
        for line, raw_id, features in records:
            if not raw_id:
                bad.report(path, line, "empty user id")
                continue
            if raw_id in self.index:
                raise DataFormatError(
                    path, line, f"user id {raw_id!r} is listed twice (lines "
                    f"{first_line[raw_id]} and {line}); user ids must be "
                    "unique")
            first_line[raw_id] = line
            self.add(raw_id, features)

    def add(self, raw_id, features=None):
        features = features or {}
        for name in features:
            self.features.setdefault(name, [""] * len(self.ids))
        for name, values in self.features.items():
            values.append(features.get(name, ""))
        self.index[raw_id] = len(self.ids)
        self.ids.append(raw_id)
        return self.index[raw_id]


class _Guard:
    """Reports bad interaction rows, holding back unknown item ids.

    Without skipping, the rows whose item is not in the items file are all
    collected so that the error can give their count; a bad row of another
    kind met after one of them raises the unknown-item error first (the
    earlier line). Pass it as `bad` to the interaction file's reader.
    """

    def __init__(self, bad, path, items_path):
        self.bad, self.path, self.items_path = bad, path, items_path
        self.skip = bad.skip
        self.unknown = []  # (line, raw item id)

    def report(self, path, line, reason):
        if self.unknown and not self.skip:
            raise _unknown_items_error(self.path, self.items_path,
                                       self.unknown, line)
        self.bad.report(path, line, reason)

    def unknown_item(self, line, item):
        if self.skip:
            self.bad.report(self.path, line, f"item id {item!r} is not in "
                            f"the items file {self.items_path}")
        self.unknown.append((line, item))

    def finish(self):
        if self.unknown and not self.skip:
            raise _unknown_items_error(self.path, self.items_path,
                                       self.unknown)


def _build(source, rows, items, users, guard, user_col, item_col,
           rating_col, time_col):
    """Maps the interaction rows to indices and returns the `RecDataset`."""
    path, bad = guard.path, guard.bad
    user_idx, item_idx, times, ratings = [], [], [], []
    for line, row in rows:
        user, item = _joined(row.get(user_col)), _joined(row.get(item_col))
        if not user or not item:
            guard.report(path, line,
                         f"empty {user_col if not user else item_col!r}")
            continue
        values = []
        for column in (rating_col, time_col):
            if column is None:
                values.append(None)
                continue
            value = _number(row.get(column))
            if value is None:
                guard.report(path, line, f"{column} {row.get(column)!r} is "
                             "not a number; expected a finite number")
                break
            values.append(value)
        else:
            if item not in items.index:
                guard.unknown_item(line, item)
                continue
            user_idx.append(users.index[user] if user in users.index
                            else users.add(user))
            item_idx.append(items.index[item])
            ratings.append(values[0])
            times.append(values[1])
    guard.finish()
    if not item_idx:
        raise DataFormatError(
            path, None, "no usable interaction rows"
            + (f" ({bad.count} bad rows skipped)" if bad.count else ""))
    if time_col is None:
        times = np.arange(len(item_idx), dtype=np.float64)
    skipped = {}
    if bad.skip:
        skipped = bad.summary()
        skipped["unknown_item_rows"] = len(guard.unknown)
    return RecDataset(
        item_ids=items.ids, item_texts=items.texts, item_fields=items.fields,
        user_ids=users.ids, user_features=users.features,
        users=np.asarray(user_idx, np.int32),
        items=np.asarray(item_idx, np.int32),
        timestamps=np.asarray(times, np.float64),
        ratings=None if rating_col is None else np.asarray(ratings,
                                                           np.float32),
        source=source, skipped=skipped)


def _unknown_items_error(path, items_path, unknown, stopped_at=None):
    line, item = unknown[0]
    ids = sorted({i for _, i in unknown})
    shown = ", ".join(map(repr, ids[:5])) + (", ..." if len(ids) > 5 else "")
    lines = ", ".join(str(n) for n, _ in unknown[:5]) + (
        ", ..." if len(unknown) > 5 else "")
    scope = ("in the file" if stopped_at is None
             else f"before line {stopped_at}, where another bad row stopped "
             "the count")
    return DataFormatError(
        path, line,
        f"item id {item!r} is not in the items file {items_path}; "
        f"{len(unknown)} interaction row(s) {scope} name {len(ids)} unknown "
        f"item id(s) ({shown}; lines {lines}). Add the items to the items "
        "file, or pass skip_bad_rows=True (--skip-bad-rows) to skip and count "
        "such rows")


# ----------------------------------------------------------------------------
# Files


def _atomic_prefix(folder_or_prefix):
    path = pathlib.Path(folder_or_prefix)
    if path.is_dir():
        found = sorted(path.glob("*.inter"))
        if len(found) != 1:
            what = (", ".join(p.name for p in found) if found
                    else "no *.inter file")
            raise DatasetNotFoundError(
                f"{path}: expected exactly one RecBole *.inter file, found "
                f"{what}; pass the path prefix (e.g. {path / 'ml-100k'}) to "
                "choose one")
        path = found[0]
    if path.suffix == ".inter":
        path = path.with_suffix("")
    if not path.with_name(path.name + ".inter").is_file():
        raise DatasetNotFoundError(
            f"{path}.inter not found; expected a folder with one *.inter "
            "file or the path prefix of RecBole atomic files")
    return path


def _is_ml100k_folder(path):
    return (path / "u.data").is_file() and (path / "u.item").is_file()


def _decode(path, encoding, what):
    return decode_text(
        path, encoding, "the file may be Latin-1 or Windows-1252: pass "
        "encoding='latin-1' (or 'cp1252'), or save the file as UTF-8", what)


def _lines(text):
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def _read_plain(path, separator, encoding, bad, columns, what):
    """Yields `(line, row dict)` of a header-less file split on `separator`."""
    for line, raw in _lines(_decode(path, encoding, what)):
        fields = [f.strip() for f in raw.split(separator)]
        if len(fields) != len(columns):
            bad.report(path, line, f"{len(fields)} fields, expected "
                       f"{len(columns)} ({what})")
            continue
        yield line, dict(zip(columns, fields))


def _read_atomic_file(path, encoding, bad, required, what):
    """Columns (types dropped), `{column: type}` and a row generator."""
    lines = _lines(_decode(path, encoding, what + " with a name:type header"))
    header_line, header = next(lines)
    columns, types = [], {}
    for field in header.split("\t"):
        name, _, kind = field.strip().partition(":")
        columns.append(name.strip())
        types[name.strip()] = kind.strip()
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataFormatError(
            path, header_line, f"no column {', '.join(map(repr, missing))}; "
            f"the header has {columns}; expected {what} with tab-separated "
            "name:type fields such as user_id:token item_id:token")

    def rows():
        for line, raw in lines:
            fields = [f.strip() for f in raw.split("\t")]
            if len(fields) != len(columns):
                bad.report(path, line, f"{len(fields)} fields, expected "
                           f"{len(columns)} as in the header (tab-separated)")
                continue
            yield line, dict(zip(columns, fields))

    return columns, types, rows()


def _read_table(path, encoding, bad, required, what):
    """`(columns, rows, header line)` of a CSV/TSV/JSONL file.

    `rows` yields `(line, row dict)` (CSV/TSV lazily, so that bad rows are
    met in file order).

    CSV/TSV rows map every header column to its stripped string; JSONL rows
    hold the keys of their object (strings, lists of strings). For JSONL the
    columns are the keys in first-seen order, and the header line is None.
    """
    path = pathlib.Path(path)
    file_format = _FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise DataFormatError(
            path, None, f"cannot tell the format from {path.suffix!r}; "
            "expected .csv, .tsv, .jsonl or .json (JSON Lines)")
    text = _decode(path, encoding, what)
    if file_format == "jsonl":
        return _read_jsonl(path, text, bad, required)
    delimiter = "\t" if file_format == "tsv" else ","
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        quoting=quoting)
    header = []
    while not any(h.strip() for h in header):  # blank lines before it
        try:
            header = next(reader)
        except csv.Error as e:
            raise DataFormatError(path, reader.line_num,
                                  f"cannot parse the header: {e}")
    header_line = reader.line_num
    columns = [h.strip() for h in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataFormatError(
            path, header_line, f"no column {', '.join(map(repr, missing))}; "
            f"the header has {columns}; expected {what} with a header row "
            f"(separator {delimiter!r}); rename the header's id columns to "
            "user_id/item_id (in Python read_interactions also takes "
            "user_col=/item_col=)")

    def rows():
        line = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataFormatError(path, line, f"cannot parse the row: {e}")
            start, line = line, reader.line_num + 1
            if not any(f.strip() for f in row):
                continue
            if len(row) != len(columns):
                bad.report(path, start, f"{len(row)} fields, expected "
                           f"{len(columns)} as in the header (separator "
                           f"{delimiter!r})")
                continue
            yield start, {c: f.strip() for c, f in zip(columns, row)}

    return columns, rows(), header_line


def _read_jsonl(path, text, bad, required):
    columns, rows = [], []
    for line, raw in _lines(text):
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as e:
            bad.report(path, line, f"not a JSON object ({e.msg}); expected "
                       "one object per line")
            continue
        if not isinstance(record, dict):
            bad.report(path, line, "not a JSON object; expected one object "
                       "per line")
            continue
        missing = [k for k in required if k not in record]
        if missing:
            bad.report(path, line, f"no key {', '.join(map(repr, missing))};"
                       f" the object has {sorted(record)}")
            continue
        row = {str(k): _json_value(v) for k, v in record.items()}
        columns.extend(k for k in row if k not in columns)
        rows.append((line, row))
    return columns, rows, None


def _json_value(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return json.dumps(value, ensure_ascii=False)


def _joined(value):
    """A field as one string (JSON lists joined with ', ')."""
    if isinstance(value, list):
        return ", ".join(_joined(v) for v in value if _joined(v))
    return "" if value is None else str(value)


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _split_title_year(title):
    match = _TITLE_YEAR.match(title)
    if match is None:
        return title.strip(), ""
    name, year, notes = match.groups()
    return f"{name}{notes}".strip(), year
