import tensorflow as tf

from tfllm.evaluation.confusion_plot import confusion_matrix_png
from tfllm.evaluation.confusion_plot import write_confusion_matrix


def test_png_and_tensorboard_image(tmp_path):
    png = confusion_matrix_png([[3, 1], [0, 2]], ["neg", "pos"])
    assert png.startswith(b"\x89PNG")
    big = confusion_matrix_png([[1] * 77] * 77, [f"l{i}" for i in range(77)])
    assert tf.image.decode_png(big).shape[0] > tf.image.decode_png(
        png).shape[0]
    path = write_confusion_matrix(tmp_path, [[3, 1], [0, 2]], ["neg", "pos"],
                                  step=2, name="validation")
    assert path == tmp_path / "validation_confusion_matrix.png"
    events = list((tmp_path / "validation").iterdir())
    assert events
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    accumulator = EventAccumulator(str(tmp_path / "validation"))
    accumulator.Reload()
    assert "confusion_matrix/validation" in accumulator.Tags()["tensors"] + (
        accumulator.Tags()["images"])
