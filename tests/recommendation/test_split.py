"""Leave-last-out and cold-start splits on hand-made datasets."""

import numpy as np
import pytest

from tfllm.recommendation.dataset import RecDataset
from tfllm.recommendation.split import cold_start_split
from tfllm.recommendation.split import leave_last_out_split
from tfllm.recommendation.split import user_sequences


def dataset(rows, num_items, num_users):
    """A `RecDataset` from (user, item, timestamp) rows in file order."""
    users, items, times = zip(*rows) if rows else ((), (), ())
    return RecDataset(
        item_ids=[f"i{i}" for i in range(1, num_items + 1)],
        item_texts=[f"item {i}" for i in range(1, num_items + 1)],
        item_fields={}, user_ids=[f"u{u}" for u in range(num_users)],
        user_features={}, users=users, items=items, timestamps=times)


# (user, item, timestamp) in file order. User 0 has two items at time 10
# (file order: 3 then 4), user 1 three items at time 1 (2, 5, 6), user 2
# two interactions, user 3 none.
ROWS = [(0, 3, 10), (0, 1, 5), (1, 2, 1), (0, 4, 10), (0, 2, 20),
        (1, 5, 1), (1, 6, 1), (1, 3, 0), (2, 1, 3), (2, 2, 2)]


def as_lists(arrays):
    return [a.tolist() for a in arrays]


def test_user_sequences_order_by_time_ties_keep_file_order():
    data = dataset(ROWS, 6, 4)
    assert as_lists(user_sequences(data)) == [[1, 3, 4, 2], [3, 2, 5, 6],
                                              [2, 1], []]


def test_leave_last_out_exact_split():
    split = leave_last_out_split(dataset(ROWS, 6, 4))
    assert as_lists(split.train_sequences) == [[1, 3], [3, 2], [2, 1], []]
    assert split.valid_items.tolist() == [4, 5, 0, 0]
    assert split.test_items.tolist() == [2, 6, 0, 0]
    assert split.valid_items.dtype == np.int32
    # Users with fewer than 3 interactions are training-only.
    assert split.eval_users("valid").tolist() == [0, 1]
    assert split.eval_users("test").tolist() == [0, 1]
    assert split.history(0, "valid").tolist() == [1, 3]
    assert split.history(0, "test").tolist() == [1, 3, 4]
    assert split.history(1, "test").tolist() == [3, 2, 5]
    assert split.history(2, "test").tolist() == [2, 1]  # no valid item
    assert split.targets(0, "valid").tolist() == [4]
    assert split.targets(1, "test").tolist() == [6]
    assert split.targets(2, "test").tolist() == []
    assert split.train_interactions() == 6
    assert split.item_counts().tolist() == [0, 2, 2, 2, 0, 0, 0]
    assert split.num_items == 6
    with pytest.raises(ValueError, match="cold"):
        split.eval_users("cold")


def test_leave_last_out_has_no_leakage():
    split = leave_last_out_split(dataset(ROWS, 6, 4))
    sequences = user_sequences(split.dataset)
    for u in split.eval_users("test"):
        test_item, valid_item = split.test_items[u], split.valid_items[u]
        assert test_item not in split.train_sequences[u]
        assert test_item != valid_item
        assert valid_item not in split.train_sequences[u]
        assert test_item not in split.history(u, "test")
        assert valid_item not in split.history(u, "valid")
        # Train + valid + test is the whole time-ordered sequence.
        assert (split.history(u, "test").tolist() + [test_item]
                == sequences[u].tolist())


def random_dataset(num_items=20, num_users=8, per_user=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(num_users):
        items = rng.choice(np.arange(1, num_items + 1), per_user,
                           replace=False)
        rows += [(u, int(i), float(t)) for t, i in enumerate(items)]
    rng.shuffle(rows)  # file order is not time order
    return dataset([tuple(r) for r in rows], num_items, num_users)


def test_cold_start_split_holds_cold_items_out():
    data = random_dataset()
    split = cold_start_split(data, fraction=0.25, seed=3)
    cold = split.cold_items
    assert len(cold) == 5
    assert cold.tolist() == sorted(set(cold.tolist()))
    assert cold.min() >= 1 and cold.max() <= data.num_items
    assert split.dataset is data
    sequences = user_sequences(data)
    for u in range(data.num_users):
        for stage in ("valid", "test", "cold"):
            assert not np.isin(split.history(u, stage), cold).any()
        assert not np.isin(split.train_sequences[u], cold).any()
        assert split.valid_items[u] not in cold
        assert split.test_items[u] not in cold
        # cold_targets: exactly the user's cold items.
        full = sequences[u]
        expected = sorted(set(full[np.isin(full, cold)].tolist()))
        assert split.cold_targets[u].tolist() == expected
        assert split.targets(u, "cold").tolist() == expected
        # The warm part is leave-last-out split as usual.
        warm = full[~np.isin(full, cold)].tolist()
        assert split.history(u, "test").tolist() + [split.test_items[u]] \
            == warm
    assert split.eval_users("cold").tolist() == [
        u for u in range(data.num_users) if len(split.cold_targets[u])]
    assert len(split.eval_users("cold")) > 0
    # The training counts never include a cold item.
    assert split.item_counts()[cold].sum() == 0
    assert (split.train_interactions() + np.count_nonzero(split.valid_items)
            + np.count_nonzero(split.test_items)
            + sum(len(t) for t in split.cold_targets)) == data.num_interactions


def test_cold_start_split_is_seeded():
    data = random_dataset()
    first = cold_start_split(data, fraction=0.25, seed=3).cold_items
    again = cold_start_split(data, fraction=0.25, seed=3).cold_items
    other = cold_start_split(data, fraction=0.25, seed=4).cold_items
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()
    assert len(cold_start_split(data, fraction=0.1).cold_items) == 2


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_cold_start_fraction_outside_range(fraction):
    with pytest.raises(ValueError, match="fraction must lie in"):
        cold_start_split(random_dataset(), fraction=fraction)


def test_cold_start_fraction_selecting_nothing():
    with pytest.raises(ValueError, match="selects no item"):
        cold_start_split(random_dataset(), fraction=0.01)
