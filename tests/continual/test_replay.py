"""The replay memory is a uniform reservoir sample (issue 31)."""

import numpy as np
import pytest

from tfllm.continual.replay import ReservoirBuffer


def test_first_items_fill_the_memory_then_size_stays():
    buffer = ReservoirBuffer(3, seed=0)
    buffer.extend(["a", "b", "c"])
    assert buffer.items == ["a", "b", "c"]
    buffer.extend(range(100))
    assert len(buffer) == 3 and buffer.seen == 103


def test_every_item_is_kept_with_probability_capacity_over_seen():
    # 20 items into a memory of 5, over 4,000 seeds: each item should be
    # kept 5/20 = 25% of the time (binomial sd 0.7 points).
    counts = np.zeros(20)
    for seed in range(4000):
        buffer = ReservoirBuffer(5, seed=seed)
        buffer.extend(range(20))
        for item in buffer.items:
            counts[item] += 1
    frequency = counts / 4000
    assert np.abs(frequency - 0.25).max() < 0.03
    # the last item (offered once at the end) is as likely as the first
    assert abs(frequency[0] - frequency[19]) < 0.04


def test_sample_without_replacement():
    buffer = ReservoirBuffer(10, seed=1)
    buffer.extend(range(10))
    drawn = buffer.sample(10)
    assert sorted(drawn) == list(range(10))
    assert len(buffer.sample(25)) == 10
    assert ReservoirBuffer(4).sample(3) == []
    with pytest.raises(ValueError):
        ReservoirBuffer(-1)
