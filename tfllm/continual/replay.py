"""A replay buffer of past examples, kept as a uniform reservoir sample.

Experience replay for continual learning (Chaudhry et al. 2019, "On Tiny
Episodic Memories in Continual Learning"; Rolnick et al. 2019): while a
task trains, each of its examples is offered once to a fixed-size memory
filled by reservoir sampling (Vitter 1985, "Random Sampling with a
Reservoir", Algorithm R), so that at any time the memory is a uniform
sample, without replacement, of every example offered so far, whatever
task it came from. Later tasks mix a batch drawn from the memory into each
of their own batches.
"""

import numpy as np


class ReservoirBuffer:
    """A fixed-size uniform sample of a stream of items (Algorithm R).

    The first `capacity` items fill the memory; the `n`-th item after that
    (1-based count `n` of items seen) replaces a uniformly chosen slot with
    probability `capacity / n`. Every item seen so far is then in the
    memory with the same probability, `min(1, capacity / n)`.

    Args:
        capacity: int >= 0. Most items kept (0 keeps none).
        seed: int. Seeds the replacement and `sample` draws.

    Raises:
        ValueError: negative capacity.

    Examples:
    ```python
    buffer = ReservoirBuffer(2, seed=0)
    for item in range(10):
        buffer.add(item)
    len(buffer), buffer.seen   # (2, 10)
    ```
    """

    def __init__(self, capacity, seed=0):
        if capacity < 0:
            raise ValueError(f"capacity must be >= 0, got {capacity}")
        self.capacity = int(capacity)
        self.items = []
        self.seen = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.items)

    def add(self, item):
        """Offers one item; returns True if it entered the memory."""
        self.seen += 1
        if len(self.items) < self.capacity:
            self.items.append(item)
            return True
        if self.capacity == 0:
            return False
        slot = int(self._rng.integers(0, self.seen))
        if slot < self.capacity:
            self.items[slot] = item
            return True
        return False

    def extend(self, items):
        """Offers each item of an iterable in order."""
        for item in items:
            self.add(item)

    def sample(self, count):
        """`count` items drawn uniformly without replacement (all of them
        when the memory holds fewer); [] when empty."""
        if not self.items or count <= 0:
            return []
        count = min(int(count), len(self.items))
        picks = self._rng.choice(len(self.items), size=count, replace=False)
        return [self.items[int(i)] for i in picks]
