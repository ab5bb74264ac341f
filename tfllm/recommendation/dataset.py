"""The in-memory recommendation dataset: items with text, users, interactions.

Every reader in `tfllm.recommendation.readers` returns a `RecDataset`. Ids
are mapped to dense indices once, here: items are numbered from 1 (index 0
is the padding of history sequences), users from 0, both in the order the
items and users files list them.
"""

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class RecDataset:
    """Items, users and user-item interactions of one dataset.

    Attributes:
        item_ids: list of str, length `num_items`. Raw item ids; the item
            with raw id `item_ids[i]` has index `i + 1` everywhere else.
        item_texts: list of str, length `num_items`. The text the item
            tower reads, e.g. `"Toy Story (1995). Genres: Animation,
            Children's, Comedy."`.
        item_fields: dict of str to list of str. Raw item columns (e.g.
            `title`, `year`, `genres`), aligned with `item_ids`.
        user_ids: list of str, length `num_users`. Raw user ids; index `u`
            everywhere else.
        user_features: dict of str to list of str. Categorical user columns
            (e.g. `age`, `gender`, `occupation`), aligned with `user_ids`;
            may be empty.
        users: int32 array `[num_interactions]`. User index of each
            interaction.
        items: int32 array `[num_interactions]`. Item index (1-based).
        timestamps: float64 array `[num_interactions]`. Unix seconds, or the
            row number when the file has no time column.
        ratings: float32 array `[num_interactions]` or None. Explicit
            feedback when the file has it.
        source: str. Where the data came from (for messages and summaries).
        skipped: dict. `BadRows.summary()` of the rows left out, or {}.

    Interactions keep file order; readers never drop a row silently (bad
    rows raise `DataFormatError` with `file:line` or are counted in
    `skipped`).
    """

    item_ids: list
    item_texts: list
    item_fields: dict
    user_ids: list
    user_features: dict
    users: np.ndarray
    items: np.ndarray
    timestamps: np.ndarray
    ratings: Optional[np.ndarray] = None
    source: str = ""
    skipped: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.users = np.asarray(self.users, np.int32)
        self.items = np.asarray(self.items, np.int32)
        self.timestamps = np.asarray(self.timestamps, np.float64)
        if self.ratings is not None:
            self.ratings = np.asarray(self.ratings, np.float32)
        n = len(self.users)
        if not (len(self.items) == len(self.timestamps) == n):
            raise ValueError("users, items and timestamps differ in length: "
                             f"{n}, {len(self.items)}, {len(self.timestamps)}")
        if n and (self.items.min() < 1 or self.items.max() > self.num_items):
            raise ValueError(f"item indices must lie in 1..{self.num_items}")
        if n and (self.users.min() < 0 or self.users.max() >= self.num_users):
            raise ValueError(f"user indices must lie in 0..{self.num_users - 1}")

    @property
    def num_items(self):
        """int. Items in the catalogue (indices 1..num_items)."""
        return len(self.item_ids)

    @property
    def num_users(self):
        """int. Users (indices 0..num_users - 1)."""
        return len(self.user_ids)

    @property
    def num_interactions(self):
        return len(self.users)

    def item_index(self, raw_id):
        """Index (1-based) of the item with raw id `raw_id`.

        Raises:
            KeyError: unknown item id.
        """
        if not hasattr(self, "_item_lookup"):
            self._item_lookup = {r: i + 1 for i, r in enumerate(self.item_ids)}
        return self._item_lookup[str(raw_id)]

    def user_index(self, raw_id):
        """Index (0-based) of the user with raw id `raw_id`.

        Raises:
            KeyError: unknown user id.
        """
        if not hasattr(self, "_user_lookup"):
            self._user_lookup = {r: i for i, r in enumerate(self.user_ids)}
        return self._user_lookup[str(raw_id)]

    def item_title(self, index):
        """Display title of item `index` (the `title` field, else its text)."""
        titles = self.item_fields.get("title")
        return titles[index - 1] if titles else self.item_texts[index - 1]
