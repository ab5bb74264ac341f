import numpy as np

from tfllm.data.pipeline import encode_token_classification
from tfllm.data.pipeline import make_dataset
from tfllm.data.pipeline import steps_per_epoch
from tfllm.preprocessing.token_classification_preprocessor import (
    TokenClassificationPreprocessor,
)

WORDS = ["Zorbex", "hires", "Anna", "Kowalski", "in", "Lyon", ".", "again"]


def sentences(n, seed=0):
    rng = np.random.default_rng(seed)
    words = [list(rng.choice(WORDS, rng.integers(1, 45))) for _ in range(n)]
    labels = [[int(rng.integers(0, 3)) for _ in s] for s in words]
    return words, labels


def test_buckets_pad_to_batch_max_and_count_steps(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 64)
    words, labels = sentences(150)
    encoded = encode_token_classification(preprocessor, words, labels,
                                          chunk_size=40)
    assert encoded.num_windows > 150  # a few long sentences need 2 windows
    assert encoded.num_tokens == sum(encoded.lengths)
    batches = list(make_dataset(encoded, 8, 64, shuffle=True, seed=1))
    assert len(batches) == steps_per_epoch(encoded, 8, 64)
    assert sum(int(b[1].shape[0]) for b in batches) == encoded.num_windows
    widths = [int(b[0]["token_ids"].shape[1]) for b in batches]
    assert max(widths) < 64 or max(encoded.lengths) == 64
    for features, y, w in batches:
        # Padded only to the longest window of the batch.
        real = features["padding_mask"].numpy().sum(axis=1)
        assert real.max() == features["token_ids"].shape[1]
        assert (w.numpy() * (1 - features["padding_mask"].numpy())).sum() == 0


def test_seed_repeats_the_order(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 64)
    encoded = encode_token_classification(preprocessor, *sentences(60))

    def first_ids(seed):
        batch = next(iter(make_dataset(encoded, 8, 64, shuffle=True, seed=seed)))
        return batch[0]["token_ids"].numpy().tolist()

    assert first_ids(3) == first_ids(3)
    assert first_ids(3) != first_ids(4)


def test_pad_to_bucket_boundary_bounds_the_shapes(tokenizer):
    preprocessor = TokenClassificationPreprocessor(tokenizer, 40)
    encoded = encode_token_classification(preprocessor, *sentences(80))
    dataset = make_dataset(encoded, 8, 40, pad_to_bucket_boundary=True)
    widths = {int(b[0]["token_ids"].shape[1]) for b in dataset}
    assert widths <= {15, 31, 40}
    assert sum(int(b[1].shape[0]) for b in dataset) == encoded.num_windows
