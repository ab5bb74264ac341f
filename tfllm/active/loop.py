"""The pool-based active learning loop (simulation with an oracle) and the
choice of one batch (`select_batch`), shared with human labelling.

Protocol (Settles 2009, section 2.3; modAL and small-text work the same
way): a seeded random seed set is labelled; then each round trains a model
on the labelled set (from the pretrained weights again, unless
`warm_start`), records the metric on a held-out split, scores the
unlabelled pool, and asks the oracle to label the `batch_size` items the
strategy picks. `rounds` query rounds give `rounds + 1` curve points.
"""

import dataclasses
import json
import pathlib
import time

import numpy as np

from tfllm.active.curves import write_curve
from tfllm.active.sequence import aggregate
from tfllm.active.sequence import sequence_least_confidence
from tfllm.active.strategies import SCORES
from tfllm.active.strategies import STRATEGIES
from tfllm.active.strategies import kmeans_diverse
from tfllm.active.strategies import random_sampling
from tfllm.active.strategies import rank

# `STRATEGIES` plus the CRF's sequence-level least confidence.
STRATEGY_NAMES = tuple(STRATEGIES) + ("sequence_least_confidence",)


def check_strategy(name):
    """Raises ValueError naming the known strategies if `name` is not one."""
    if name not in STRATEGY_NAMES:
        from tfllm.data.errors import UserInputError

        raise UserInputError(f"unknown active learning strategy {name!r}; "
                         f"known: {', '.join(STRATEGY_NAMES)}")


@dataclasses.dataclass
class ActiveLearningState:
    """What a run folder remembers between rounds (`state.json`).

    Attributes:
        labelled: list of `[position, label]` pairs, in labelling order.
        curve: list of per-round dicts (`labels`, `metric`, seconds,
            `selected` positions).
        round: int. The next round to run.
        pending: list of int. Positions sent out for labelling and not yet
            read back (human labelling).
        settings: dict. The settings the run was started with.
    """

    labelled: list = dataclasses.field(default_factory=list)
    curve: list = dataclasses.field(default_factory=list)
    round: int = 0
    pending: list = dataclasses.field(default_factory=list)
    settings: dict = dataclasses.field(default_factory=dict)

    def positions(self):
        """Labelled pool positions, in labelling order."""
        return [int(p) for p, _ in self.labelled]

    def add(self, positions, labels):
        """Appends labelled items.

        Raises:
            ValueError: a position already labelled.
        """
        known = set(self.positions())
        for position, label in zip(positions, labels):
            if int(position) in known:
                raise ValueError(f"pool position {position} is already "
                                 "labelled")
            known.add(int(position))
            self.labelled.append([int(position), label])

    def save(self, folder):
        """Writes `folder/state.json` atomically."""
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "state.json.partial"
        partial.write_text(json.dumps(dataclasses.asdict(self), indent=1,
                                      ensure_ascii=False), encoding="utf-8")
        partial.replace(folder / "state.json")

    @classmethod
    def load(cls, folder):
        """The state in `folder/state.json`, or a new one if none."""
        path = pathlib.Path(folder) / "state.json"
        if not path.is_file():
            return cls()
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _uncertainty(strategy, learner, items, mc_samples, aggregation):
    """Scores `[len(items)]`, higher = more informative."""
    if strategy == "sequence_least_confidence":
        return sequence_least_confidence(
            learner.best_path_probabilities(items))
    if strategy == "bald":
        probabilities, mask = learner.mc_dropout_probabilities(
            items, mc_samples)
    else:
        probabilities, mask = learner.predict_probabilities(items)
    scores = SCORES[strategy](probabilities)
    return scores if mask is None else aggregate(scores, mask, aggregation)


def select_batch(strategy, learner, pool, candidates, batch_size, seed=0,
                 pool_subsample=None, mc_samples=10, aggregation="max",
                 candidates_per_pick=10):
    """The pool positions to label next.

    Args:
        strategy: str. A name in `STRATEGY_NAMES`.
        learner: a trained learner (`tfllm.active.learners`); unused by
            `random`.
        pool: list. Every pool item's input (text or word list).
        candidates: int sequence. The unlabelled positions to choose from.
        batch_size: int. Items to pick.
        seed: int or list of int. Seeds the random strategy, the pool
            subsample and k-means.
        pool_subsample: int or None. Score only this many candidates drawn
            at random (seeded), for speed (small-text's
            `SubsamplingQueryStrategy`); None: all.
        mc_samples: int. MC-dropout passes for `bald` (default 10).
        aggregation: str. Word-to-sentence aggregation for sequences.
        candidates_per_pick: int. `kmeans_margin` pre-filter factor.

    Returns:
        int64 array of distinct positions from `candidates`, at most
        `batch_size`, most informative first.

    Raises:
        ValueError: an unknown strategy.
    """
    check_strategy(strategy)
    seed_sequence = list(np.atleast_1d(seed).astype(int))
    candidates = np.sort(np.asarray(candidates, dtype=np.int64))
    if pool_subsample and len(candidates) > pool_subsample:
        keep = random_sampling(len(candidates), pool_subsample,
                               seed_sequence + [1])
        candidates = candidates[np.sort(keep)]
    if strategy == "random":
        return candidates[random_sampling(len(candidates), batch_size,
                                          seed_sequence)]
    items = [pool[i] for i in candidates]
    scores = _uncertainty(strategy, learner, items, mc_samples, aggregation)
    if strategy == "kmeans_margin":
        chosen = kmeans_diverse(scores, learner.embeddings(items), batch_size,
                                int(np.sum(seed_sequence)) % (2 ** 31),
                                candidates_per_pick)
    else:
        chosen = rank(scores, batch_size)
    return candidates[chosen]


def run_active_learning(learner, pool, oracle, evaluation, strategy,
                        seed_size, batch_size, rounds, seed=0, run_dir=None,
                        warm_start=False, pool_subsample=None, mc_samples=10,
                        aggregation="max", candidates_per_pick=10,
                        log=print):
    """Simulated pool-based active learning; returns the learning curve.

    Args:
        learner: a learner (`TextClassificationLearner`,
            `TokenClassificationLearner` or anything with their methods).
        pool: list of N inputs (texts or word lists); no labels.
        oracle: `SimulatedOracle` over the pool's gold labels: the only way
            a label reaches the loop.
        evaluation: `(inputs, labels)`: the held-out split of the metric.
        strategy: str. A name in `STRATEGY_NAMES`.
        seed_size: int >= 1. Randomly chosen items labelled first.
        batch_size: int >= 1. Items labelled per round.
        rounds: int >= 0. Query rounds.
        seed: int. Seeds the seed set and every round's choices.
        run_dir: str, path or None. Writes `state.json` and
            `learning_curve.json` after every round; an existing state with
            the same settings is resumed (finished rounds are kept).
        warm_start: bool. Continue from the last round's model instead of
            the pretrained weights (default False: cold start).
        pool_subsample: int or None. As in `select_batch`.
        mc_samples: int. As in `select_batch`.
        aggregation: str. As in `select_batch`.
        candidates_per_pick: int. As in `select_batch`.
        log: callable taking a str, or None.

    Returns:
        list of dicts, one per round: `round`, `labels` (labelled items the
        model was trained on), `metric` (`learner.metric_name`),
        `train_seconds`, `query_seconds`, `seconds`, `selected` (positions
        chosen after this round's model; empty in the last round).

    Raises:
        ValueError: an unknown strategy, sizes < 1, or a run folder holding
            a run with other settings.
    """
    check_strategy(strategy)
    if seed_size < 1 or batch_size < 1 or rounds < 0:
        raise ValueError(f"seed_size ({seed_size}) and batch_size "
                         f"({batch_size}) must be >= 1, rounds ({rounds}) "
                         ">= 0")
    settings = {"strategy": strategy, "seed_size": seed_size,
                "batch_size": batch_size, "seed": seed, "pool_size": len(pool),
                "warm_start": warm_start, "pool_subsample": pool_subsample,
                "mc_samples": mc_samples, "aggregation": aggregation,
                "candidates_per_pick": candidates_per_pick}
    state = (ActiveLearningState.load(run_dir) if run_dir
             else ActiveLearningState())
    if state.settings and state.settings != settings:
        differ = sorted(k for k in settings
                        if state.settings.get(k) != settings[k])
        from tfllm.data.errors import UserInputError

        raise UserInputError(f"{run_dir} holds a run with other settings "
                         f"({', '.join(differ)}); use another run folder")
    state.settings = settings
    if not state.labelled:
        first = random_sampling(len(pool), seed_size, [seed, 0])
        state.add(first, oracle.label(first))
    log = log or (lambda message: None)
    while state.round <= rounds:
        started = time.perf_counter()
        positions = state.positions()
        learner.fit([pool[i] for i in positions],
                    [label for _, label in state.labelled],
                    warm_start=warm_start and state.round > 0)
        metric = learner.evaluate(*evaluation)
        trained = time.perf_counter()
        selected = []
        if state.round < rounds:
            labelled = set(positions)
            candidates = [i for i in range(len(pool)) if i not in labelled]
            selected = select_batch(
                strategy, learner, pool, candidates, batch_size,
                [seed, state.round + 1], pool_subsample, mc_samples,
                aggregation, candidates_per_pick).tolist()
        finished = time.perf_counter()
        state.curve.append({
            "round": state.round, "labels": len(positions),
            "metric": metric, "train_seconds": round(trained - started, 2),
            "query_seconds": round(finished - trained, 2),
            "seconds": round(finished - started, 2), "selected": selected})
        log(f"round {state.round}: {len(positions)} labels, "
            f"{learner.metric_name} {metric:.4f} "
            f"({finished - started:.1f} s)")
        if selected:
            state.add(selected, oracle.label(selected))
        state.round += 1
        if run_dir:
            state.save(run_dir)
            write_curve(pathlib.Path(run_dir) / "learning_curve.json",
                        state.curve, strategy=strategy,
                        metric=learner.metric_name, settings=settings)
    return state.curve
