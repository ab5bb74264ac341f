"""The most-popular baseline: every user gets the items with the most
training interactions (minus the ones they have seen)."""

import numpy as np


class MostPopular:
    """Scores every item by its number of training interactions.

    Args:
        item_counts: int array `[num_items + 1]`, e.g.
            `LeaveLastOutSplit.item_counts()`.

    Examples:
    ```python
    pop = MostPopular(split.item_counts())
    evaluate_scores(pop.score_fn, split, "test")
    ```
    """

    def __init__(self, item_counts):
        self.item_counts = np.asarray(item_counts, np.float64)

    def score_fn(self, users, histories):
        """`(users, histories) -> scores [batch, num_items + 1]` (the same
        row for everyone)."""
        return np.tile(self.item_counts, (len(users), 1))
