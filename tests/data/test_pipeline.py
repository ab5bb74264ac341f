import numpy as np

from tfllm.data.pipeline import encode_token_classification
from tfllm.data.pipeline import make_dataset
from tfllm.data.pipeline import padded_batch_shapes
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
    shapes = {tuple(b[0]["token_ids"].shape.as_list()) for b in dataset}
    assert shapes == set(padded_batch_shapes(encoded, 8, 40))
    assert sum(int(b[1].shape[0]) for b in dataset) == encoded.num_windows


def test_one_label_per_text_buckets_by_token_ids():
    from tfllm.data.pipeline import encode_text_classification
    from tfllm.preprocessing.text_classification_preprocessor import (
        TextClassificationPreprocessor,
    )
    from tiny import CLS_TEXTS
    from tiny import tiny_cls_tokenizer

    preprocessor = TextClassificationPreprocessor(tiny_cls_tokenizer(), 32)
    texts = [" ".join(["great"] * n) for n in range(1, 30)] + CLS_TEXTS
    labels = np.arange(len(texts)) % 2
    weights = np.linspace(0.5, 1.5, len(texts))
    encoded = encode_text_classification(preprocessor, texts, labels,
                                         sample_weight=weights, chunk_size=7)
    assert encoded.num_windows == len(texts)
    assert encoded.lengths.tolist()[:3] == [3, 4, 5]
    batches = list(make_dataset(encoded, 4, 32, shuffle=True, seed=0))
    assert len(batches) == steps_per_epoch(encoded, 4, 32)
    seen = []
    for features, y, w in batches:
        assert y.shape == w.shape == (features["token_ids"].shape[0],)
        real = features["padding_mask"].numpy().sum(axis=1)
        assert real.max() == features["token_ids"].shape[1]
        # A text's label and weight travel with it.
        for row, n in enumerate(real):
            seen.append((int(y[row]), float(w[row]), int(n)))
    assert sorted(seen) == sorted(
        (int(l), float(np.float32(w)), int(n)) for l, w, n in
        zip(labels, weights, encoded.lengths))
    multi = encode_text_classification(
        preprocessor, texts[:4], np.eye(4, 3, dtype=np.float32))
    features, y = next(iter(make_dataset(multi, 4, 32)))
    assert y.shape == (4, 3) and y.dtype.name == "float32"
