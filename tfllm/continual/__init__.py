"""Continual fine-tuning: one model trained on a sequence of tasks without
forgetting the earlier ones (replay, EWC, per-task LoRA adapters), scored
by the accuracy matrix, average accuracy, backward transfer and forgetting.

    from tfllm.continual import ContinualConfig, ContinualLearner, load_task

    tasks = [load_task(name, max_train_examples=2000)
             for name in ("sst2", "fpb-allagree", "banking77")]
    result = ContinualLearner(tasks, ContinualConfig(method="replay")).run()
    result.summary()
"""

from tfllm.continual.learner import METHODS  # noqa: F401
from tfllm.continual.learner import ContinualConfig  # noqa: F401
from tfllm.continual.learner import ContinualLearner  # noqa: F401
from tfllm.continual.learner import ContinualResult  # noqa: F401
from tfllm.continual.metrics import average_accuracy  # noqa: F401
from tfllm.continual.metrics import backward_transfer  # noqa: F401
from tfllm.continual.metrics import forgetting  # noqa: F401
from tfllm.continual.metrics import summarize  # noqa: F401
from tfllm.continual.replay import ReservoirBuffer  # noqa: F401
from tfllm.continual.tasks import ContinualTask  # noqa: F401
from tfllm.continual.tasks import load_task  # noqa: F401
