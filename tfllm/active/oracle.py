"""The oracle of a simulated active learning run: it holds the pool's gold
labels and reveals one only when that pool item is queried."""

import numpy as np


class SimulatedOracle:
    """Gold labels behind a query interface (a simulated annotator).

    The loop sees the pool's inputs only; a label leaves the oracle through
    `label(positions)`, which records every query in `queried` (in order),
    so a test can check that no label was read before its item was
    selected.

    Args:
        labels: sequence of length N. The gold label of each pool position
            (str for classification; a tag list for NER).

    Attributes:
        queried: list of int. Every position asked, in order.
    """

    def __init__(self, labels):
        self._labels = list(labels)
        self.queried = []

    def __len__(self):
        return len(self._labels)

    def label(self, positions):
        """The gold labels of `positions`.

        Args:
            positions: int sequence. Pool positions, each asked once.

        Returns:
            list of labels, in the order of `positions`.

        Raises:
            ValueError: a position asked before, or outside `[0, N)`.
        """
        positions = [int(i) for i in np.asarray(positions).reshape(-1)]
        asked = set(self.queried)
        for i in positions:
            if not 0 <= i < len(self._labels):
                raise ValueError(f"pool position {i} outside [0, "
                                 f"{len(self._labels)})")
            if i in asked:
                raise ValueError(f"pool position {i} was labelled before")
            asked.add(i)
        self.queried.extend(positions)
        return [self._labels[i] for i in positions]
