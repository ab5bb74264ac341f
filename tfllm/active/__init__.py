"""Pool-based active learning: query strategies, a simulated loop with an
oracle, learners over tfllm's classifiers, and batch files for human
labelling (guide: docs/guides/active-learning.md)."""

from tfllm.active.batch_files import read_labelled_batch
from tfllm.active.batch_files import write_batch
from tfllm.active.curves import labels_to_reach
from tfllm.active.curves import plot_learning_curves
from tfllm.active.learners import TextClassificationLearner
from tfllm.active.learners import TokenClassificationLearner
from tfllm.active.loop import STRATEGY_NAMES
from tfllm.active.loop import ActiveLearningState
from tfllm.active.loop import run_active_learning
from tfllm.active.loop import select_batch
from tfllm.active.oracle import SimulatedOracle
from tfllm.active.sequence import aggregate
from tfllm.active.sequence import sequence_least_confidence
from tfllm.active.sequence import sequence_uncertainty
from tfllm.active.strategies import STRATEGIES
from tfllm.active.strategies import bald
from tfllm.active.strategies import bald_scores
from tfllm.active.strategies import entropy
from tfllm.active.strategies import entropy_scores
from tfllm.active.strategies import get_strategy
from tfllm.active.strategies import kmeans_diverse
from tfllm.active.strategies import kmeans_margin
from tfllm.active.strategies import least_confidence
from tfllm.active.strategies import least_confidence_scores
from tfllm.active.strategies import margin
from tfllm.active.strategies import margin_scores
from tfllm.active.strategies import random_sampling
from tfllm.active.strategies import rank

__all__ = [
    "ActiveLearningState", "STRATEGIES", "STRATEGY_NAMES", "SimulatedOracle",
    "TextClassificationLearner", "TokenClassificationLearner", "aggregate",
    "bald", "bald_scores", "entropy", "entropy_scores", "get_strategy",
    "kmeans_diverse", "kmeans_margin", "labels_to_reach", "least_confidence",
    "least_confidence_scores", "margin", "margin_scores",
    "plot_learning_curves", "random_sampling", "rank", "read_labelled_batch",
    "run_active_learning", "select_batch", "sequence_least_confidence",
    "sequence_uncertainty", "write_batch",
]
