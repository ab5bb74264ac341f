"""Training examples of the two-tower models as `tf.data` pipelines.

The sequence user towers (attention, mean) learn from windows of each
user's training sequence, predicting the next item at every position (as
SASRec): a sequence of L items gives L - 1 targets, cut from its end into
windows of at most `max_history` inputs. The id user tower learns from
(user, item) pairs. The example objects offer what the shared trainer
(`tfllm.training.trainer.train`) asks of its data: `make_dataset`,
`steps_per_epoch`, `num_tokens` (here: training targets) and `unit`.
"""

import math

import numpy as np
import tensorflow as tf


def left_pad(sequence, length):
    """int32 `[length]`: the last `length` items of `sequence`, left-padded
    with 0."""
    out = np.zeros(length, np.int32)
    tail = np.asarray(sequence, np.int32)[-length:] if length else []
    if len(tail):
        out[length - len(tail):] = tail
    return out


def history_batch(histories, max_history):
    """int32 `[batch, max_history]` of left-padded histories."""
    return np.stack([left_pad(h, max_history) for h in histories]) \
        if len(histories) else np.zeros((0, max_history), np.int32)


class RetrievalExamples:
    """Inputs and targets of one training epoch.

    Args:
        split: `LeaveLastOutSplit`.
        max_history: int. History positions of the user tower.
        pairs: bool. (user, item) pairs for the id user tower instead of
            sequence windows.

    Attributes:
        inputs: dict of numpy arrays `history` `[examples, max_history]`,
            `users` `[examples]`.
        targets: int32 `[examples, max_history]` (`[examples, 1]` pairs).
        num_tokens: int. Targets per epoch (training interactions
            predicted).
        unit: str. `"interactions"`, the unit of the throughput figures.
    """

    unit = "interactions"

    def __init__(self, split, max_history, pairs=False):
        histories, targets, users = [], [], []
        for user, sequence in enumerate(split.train_sequences):
            if pairs:
                for item in sequence:
                    users.append(user)
                    targets.append([item])
                continue
            end = len(sequence)
            while end >= 2:
                chunk = sequence[max(0, end - max_history - 1):end]
                histories.append(left_pad(chunk[:-1], max_history))
                targets.append(left_pad(chunk[1:], max_history))
                users.append(user)
                end -= max_history
        count = len(targets)
        self.inputs = {
            "history": (np.stack(histories) if histories
                        else np.zeros((count, max_history), np.int32)),
            "users": np.asarray(users, np.int32),
        }
        self.targets = np.asarray(targets, np.int32).reshape(count, -1)
        self.num_tokens = int((self.targets > 0).sum())
        self.num_examples = count

    def steps_per_epoch(self, batch_size):
        """int. Batches per epoch (the last one may be smaller)."""
        return max(1, math.ceil(self.num_examples / batch_size))

    def make_dataset(self, batch_size, shuffle=False, seed=None,
                     repeat=False):
        """`tf.data.Dataset` of `(inputs, targets)` batches.

        Args:
            batch_size: int. Global batch size in examples.
            shuffle: bool. Reshuffle every epoch (seeded).
            seed: int or None.
            repeat: bool. Repeat forever (the trainer counts steps).
        """
        dataset = tf.data.Dataset.from_tensor_slices(
            (self.inputs, self.targets))
        if shuffle:
            dataset = dataset.shuffle(self.num_examples, seed=seed,
                                      reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size)
        if repeat:
            dataset = dataset.repeat()
        return dataset.prefetch(tf.data.AUTOTUNE)
