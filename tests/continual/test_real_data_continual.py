"""The benchmark's task sequence loads from ../shared/data (issue 31;
skipped when absent): seeded subsamples of the sizes asked for, each task's
own label set, validation splits only."""

import pytest

from tfllm.continual.tasks import load_task
from tfllm.data.classification_datasets import DATASETS
from tfllm.data.locate import find_dataset_dir

pytestmark = pytest.mark.real_data

SEQUENCE = {"sst2": 2, "fpb-allagree": 3, "banking77": 77,
            "chnsenticorp": 2}


def test_classification_sequence_subsamples():
    for name in SEQUENCE:
        spec = DATASETS[name]
        if find_dataset_dir(spec.folder, None, spec.files) is None:
            pytest.skip(f"{spec.folder} not found (../shared/data or "
                        "TFLLM_DATA_DIR)")
    tasks = [load_task(name, max_train_examples=50, max_eval_examples=20,
                       seed=3) for name in SEQUENCE]
    for task, (name, labels) in zip(tasks, SEQUENCE.items()):
        assert task.name == name and len(task.labels) == labels
        assert len(task.train_x) == 50 and len(task.eval_x) == 20
        assert set(task.train_y) <= set(task.labels)
    again = load_task("sst2", max_train_examples=50, max_eval_examples=20,
                      seed=3)
    assert again.train_x == tasks[0].train_x  # seeded
