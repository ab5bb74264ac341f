import collections

import keras
import numpy as np
import tensorflow as tf

from tfllm.training.callbacks import TensorBoard


def summary_tags(folder):
    counts = collections.Counter()
    for path in folder.glob("events*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                counts[value.tag] += 1
    return counts


class AddScalars(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["val_entity_f1"] = 0.5
        logs["train_tokens_per_second"] = 100.0


def test_epoch_scalars_are_written_whatever_update_freq(tmp_path):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    # 2 steps per epoch, update_freq 5: Keras' own callback loses epoch_*.
    model.fit(np.ones((8, 1)), np.ones((8, 1)), batch_size=4, epochs=3,
              verbose=0, callbacks=[AddScalars(), TensorBoard(
                  str(tmp_path), update_freq=5, write_graph=False)])
    train = summary_tags(tmp_path / "train")
    validation = summary_tags(tmp_path / "validation")
    assert train["epoch_loss"] == 3
    assert train["epoch_learning_rate"] == 3
    assert train["epoch_train_tokens_per_second"] == 3
    assert validation["epoch_entity_f1"] == 3


def test_best_epoch_by_a_lower_score(tmp_path):
    from tfllm.training.callbacks import EpochEvaluation

    losses = iter([3.0, 2.0, 2.5])
    evaluation = EpochEvaluation(
        tmp_path, lambda m: ({"loss": next(losses)}, {}), "loss", 8,
        mode="min")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 1)), np.ones((8, 1)), batch_size=4, epochs=3,
              verbose=0, callbacks=[evaluation])
    assert (evaluation.best, evaluation.best_epoch) == (2.0, 2)
    import pytest

    with pytest.raises(ValueError, match="'max' or 'min'"):
        EpochEvaluation(tmp_path, None, "loss", 8, mode="lower")
