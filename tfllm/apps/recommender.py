"""The recommender application: settings, building, training, evaluating,
recommending and exporting a text-based two-tower recommender.

```python
from tfllm.apps.recommender import Recommender
from tfllm.recommendation.readers import load_recommendation_dataset
from tfllm.recommendation.split import leave_last_out_split

data = load_recommendation_dataset("movielens-100k")
split = leave_last_out_split(data)
rec = Recommender.from_dataset(data, model="text-two-tower")
rec.fit(split, epochs=30)
rec.evaluate(split, "test")          # {"recall@10": ..., "ndcg@10": ...}
rec.recommend(user="42", k=10)       # [{"item_id", "title", "score"}, ...]
rec.export("saved_models/recommender")
```

`tfllm recommend train|evaluate|export|recommend` is the command line over
the same class (`tfllm.cli.recommend`), and `tfllm.runs.recommend` the run
that writes a run folder.
"""

import dataclasses
import json
import pathlib

import numpy as np

from tfllm.config import help_field as _help
from tfllm.config import replace_settings
from tfllm.data.errors import UserInputError
from tfllm.training.trainer import TrainingConfig

MODELS = ("text-two-tower", "id-two-tower", "popularity")
MODEL_FILE = "model.keras"
ITEMS_FILE = "recommender.json"


@dataclasses.dataclass
class RecommenderConfig:
    """The recommender's model settings.

    Attributes: see each field's help (`tfllm recommend train --help`).
    """

    model: str = _help(
        "text-two-tower (item tower: a language model over the item's "
        "text, plus an item-id embedding), id-two-tower (user and item id "
        "embeddings, in-batch softmax: TensorFlow Recommenders' retrieval "
        "model) or popularity", "text-two-tower")
    backbone: str = _help(
        "the item tower's language model: a backbone name ('minilm') or a "
        "`tfllm faq train` run folder", "minilm")
    text_max_length: int = _help("longest item text in sub-tokens", 32)
    user_tower: str = _help(
        "attention (causal self-attention over the last --max-history "
        "items, as SASRec), mean (their running mean) or id (a user-id "
        "embedding); id-two-tower always uses id", "attention")
    max_history: int = _help("items of history the user tower reads", 50)
    embedding_dim: int = _help("width of user and item vectors", 64)
    num_layers: int = _help("self-attention blocks of the user tower", 2)
    num_heads: int = _help("attention heads of the user tower", 1)
    dropout: float = _help("dropout of the user tower", 0.2)
    item_ids: bool = _help(
        "add an item-id embedding to the text item vector (cold-start "
        "items go without it)", True)
    item_id_dropout: float = _help(
        "share of item-id embeddings left out per training step, so the "
        "text alone learns to rank (helps cold-start items)", 0.0)
    text_hidden_dim: int = _help(
        "width of a GELU layer between the encoder output and the item "
        "vector (0: linear projection)", 0)
    item_bias: bool = _help(
        "add a per-item bias (from the item's text and id) to every score, "
        "so text can carry an item's general appeal (helps cold-start "
        "items)", False)
    negatives: str = _help(
        "catalogue (softmax over every training item) or in_batch (the "
        "batch's positives, logQ-corrected)", "catalogue")
    logq_correction: bool = _help(
        "subtract log q(item) from in-batch logits (Yi et al. 2019)", True)
    temperature: float = _help("training logits = scores / temperature", 1.0)
    encoder_items_per_step: int = _help(
        "fine-tune the language model: positive items re-encoded with "
        "gradients per step (0: the encoder stays frozen and its outputs "
        "are cached)", 0)
    user_features: bool = _help(
        "add embeddings of the users file's categorical columns (age, "
        "gender, occupation) to the user vector", True)


@dataclasses.dataclass
class RecommenderTrainingConfig(TrainingConfig):
    """`TrainingConfig` with the recommender's defaults (measured on
    MovieLens-100K: BENCHMARKS.md)."""

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.05


def check_config(config):
    """Checks the choices of a `RecommenderConfig` before any data is read;
    returns it with the settings the model really uses (an id two-tower has
    an id user tower and in-batch negatives, whatever else was given).

    Raises:
        UserInputError: an unknown model, user tower or negatives, or a
            size below 1.
    """
    from tfllm.recommendation.two_tower import NEGATIVES
    from tfllm.recommendation.two_tower import USER_TOWERS

    for name, value, allowed in (("model", config.model, MODELS),
                                 ("user_tower", config.user_tower,
                                  USER_TOWERS),
                                 ("negatives", config.negatives, NEGATIVES)):
        if value not in allowed:
            raise UserInputError(
                f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    for name in ("embedding_dim", "max_history", "text_max_length"):
        if getattr(config, name) < 1:
            raise UserInputError(f"{name} must be at least 1, got "
                                 f"{getattr(config, name)}")
    if config.model == "id-two-tower":
        config = dataclasses.replace(config, user_tower="id",
                                     negatives="in_batch")
    return config


def _user_feature_table(dataset):
    """int32 `[num_users + 1, F]` codes (0: unknown; last row: an unknown
    user) and the vocabulary size of each column."""
    names = sorted(dataset.user_features)
    table = np.zeros((dataset.num_users + 1, max(len(names), 1)), np.int32)
    sizes = []
    for column, name in enumerate(names):
        values = [str(v) for v in dataset.user_features[name]]
        vocabulary = {v: i + 1 for i, v in enumerate(sorted(set(values)))}
        table[:len(values), column] = [vocabulary[v] for v in values]
        sizes.append(len(vocabulary) + 1)
    return table, sizes


class Recommender:
    """A trained (or trainable) recommender over one item catalogue.

    Build it with `from_dataset` or `load`; `fit`, `evaluate`, `recommend`
    and `export` it.

    Args:
        dataset: `RecDataset`. Catalogue, users and interactions.
        config: `RecommenderConfig`.
        model: `TwoTowerRecommender` or None (popularity).
        item_counts: int array `[num_items + 1]` or None. Training
            interactions per item (the popularity model's scores).
    """

    def __init__(self, dataset, config, model=None, item_counts=None):
        self.dataset = dataset
        self.config = config
        self.model = model
        self.item_counts = item_counts
        self._score = None
        self._sequences = None

    # --- building ---------------------------------------------------------

    @classmethod
    def from_dataset(cls, dataset, config=None, split=None, **overrides):
        """Builds an untrained recommender for `dataset`'s catalogue.

        Encodes every item text once with the language model
        (`text-two-tower`), so building takes a few seconds per thousand
        items on a CPU.

        Args:
            dataset: `RecDataset`.
            config: `RecommenderConfig` or None (defaults).
            split: `LeaveLastOutSplit` or None; its training counts give the
                in-batch logQ and its cold items lose their id embedding
                (set again by `fit`).
            **overrides: `RecommenderConfig` fields.

        Returns:
            `Recommender`.

        Raises:
            UserInputError: an unknown model or setting.
            BackboneNotAvailableError: the language model is not installed.
        """
        config = check_config(
            replace_settings(config or RecommenderConfig(), overrides))
        rec = cls(dataset, config)
        if config.model == "popularity":
            return rec
        from tfllm.recommendation.two_tower import TwoTowerRecommender

        text = config.model == "text-two-tower"
        encoder = features = None
        if text:
            from tfllm.retrieval.embedding import embed_texts
            from tfllm.retrieval.embedding import load_sentence_encoder

            encoder = load_sentence_encoder(config.backbone,
                                            config.text_max_length)
            features = embed_texts(encoder, dataset.item_texts)
            features = np.concatenate(
                [np.zeros((1, features.shape[1]), np.float32), features])
            encoder.trainable = bool(config.encoder_items_per_step)
        table, sizes = _user_feature_table(dataset)
        if not config.user_features:
            sizes = []
        model = TwoTowerRecommender(
            num_items=dataset.num_items, num_users=dataset.num_users,
            embedding_dim=config.embedding_dim,
            user_tower="id" if not text else config.user_tower,
            max_history=config.max_history, num_layers=config.num_layers,
            num_heads=config.num_heads, dropout=config.dropout,
            use_item_ids=config.item_ids or not text,
            text_feature_dim=features.shape[1] if text else 0,
            item_texts=dataset.item_texts if text else None,
            item_encoder=encoder,
            encoder_items_per_step=config.encoder_items_per_step,
            negatives="in_batch" if not text else config.negatives,
            logq_correction=config.logq_correction,
            temperature=config.temperature,
            user_feature_vocab_sizes=sizes,
            item_id_dropout=config.item_id_dropout,
            text_hidden_dim=config.text_hidden_dim,
            item_bias=config.item_bias)
        model.build()
        if text:
            model.set_item_text_features(features)
        if sizes:
            model.set_user_features(table)
        rec.model = model
        if split is not None:
            rec._set_split(split)
        return rec

    def _set_split(self, split):
        counts = split.item_counts()
        self.item_counts = counts
        if self.model is not None:
            cold = split.cold_items if split.cold_items is not None else ()
            self.model.set_item_statistics(counts, cold)
        self._score = None

    # --- training ---------------------------------------------------------

    def fit(self, split, training=None, run_dir=None, **overrides):
        """Trains on `split`'s training sequences; the best epoch by
        validation NDCG@10 is kept.

        Args:
            split: `LeaveLastOutSplit` (or a cold-start split: validation
                then ranks the held-out users' validation items as usual).
            training: `RecommenderTrainingConfig` or None.
            run_dir: str, path or None. Run folder (checkpoints,
                `metrics.jsonl`, TensorBoard logs; an interrupted run
                resumes from it); None: a temporary folder.
            **overrides: `RecommenderTrainingConfig` fields (`epochs=`,
                `batch_size=`, `learning_rate=`...).

        Returns:
            list of per-epoch records (validation metrics, seconds).
        """
        import tempfile

        import keras

        from tfllm.recommendation.examples import RetrievalExamples
        from tfllm.training.trainer import train

        self._set_split(split)
        if self.model is None:  # popularity: counting is the training
            if run_dir is not None:
                self.save(run_dir)
            return []
        training = replace_settings(training or RecommenderTrainingConfig(),
                                    overrides)
        temporary = None
        if run_dir is None:
            temporary = tempfile.TemporaryDirectory(prefix="tfllm-rec-")
            run_dir = temporary.name
        examples = RetrievalExamples(split, self.model.max_history,
                                     pairs=self.model.user_tower == "id")

        def evaluate_fn(model):
            self.model = model
            self._score = None
            scores = self.evaluate(split, "valid")
            return ({k: v for k, v in scores.items() if k != "users"},
                    scores)

        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="sum")  # the model computes its own
        self.model, history = train(
            self.model, examples, training, run_dir, evaluate_fn, "ndcg@10",
            loss, max_length=self.model.max_history,
            run_settings=dataclasses.asdict(self.config))
        self._score = None
        if run_dir is not None and temporary is None:
            self.save(run_dir)
        if temporary is not None:
            temporary.cleanup()
        return history

    # --- scoring ----------------------------------------------------------

    def score_fn(self, users, histories):
        """Scores of every item: float `[batch, num_items + 1]`.

        Args:
            users: int array `[batch]`, user indices (`num_users`: unknown).
            histories: list of int arrays, item indices oldest first.
        """
        if self.model is None:
            if self.item_counts is None:
                raise UserInputError("the popularity model needs fit() first")
            return np.tile(np.asarray(self.item_counts, np.float64),
                           (len(users), 1))
        if self._score is None:
            import tensorflow as tf

            model = self.model
            self._score = tf.function(
                lambda h, u: model({"history": h, "users": u}),
                input_signature=[
                    tf.TensorSpec([None, model.max_history], tf.int32),
                    tf.TensorSpec([None], tf.int32)])
        from tfllm.recommendation.examples import history_batch

        return self._score(
            history_batch(histories, self.model.max_history),
            np.asarray(users, np.int32)).numpy()

    def evaluate(self, split, stage="test", ks=(10, 50), tie_break="random"):
        """Full-catalogue Recall@k, NDCG@k and coverage@k at `stage`.

        Args:
            split: `LeaveLastOutSplit`.
            stage: str. `"valid"`, `"test"` or `"cold"` (a cold-start split).
            ks: tuple of int. Cut-offs; coverage is reported for the first.
            tie_break: str. `"random"` (seeded per user) or `"index"`.

        Returns:
            dict of float (`users`: int); see
            `tfllm.recommendation.metrics.evaluate_scores`.

        Raises:
            UserInputError: an unknown stage, or `"cold"` on a split without
                cold items.
        """
        from tfllm.recommendation.metrics import evaluate_scores

        if stage not in ("valid", "test", "cold"):
            raise UserInputError(f"stage must be valid, test or cold, got "
                                 f"{stage!r}")
        if stage == "cold" and split.cold_items is None:
            raise UserInputError(
                "the cold stage needs a cold-start split (a run trained "
                "with --cold-start)")
        return {k: (int(v) if k == "users" else float(v))
                for k, v in evaluate_scores(self.score_fn, split, stage, ks,
                                            tie_break=tie_break).items()}

    def recommend(self, user=None, history=None, k=10, exclude_seen=True):
        """Top-`k` items for a known user or a history of raw item ids.

        Args:
            user: str or None. Raw user id; their whole interaction history
                (by time) is the query.
            history: list of str or None. Raw item ids, oldest first (for a
                new user, or to override the stored history).
            k: int. Items returned.
            exclude_seen: bool. Leave out items of the history.

        Returns:
            list of dicts `{"item_id", "title", "score"}`, best first.

        Raises:
            UserInputError: neither or an unknown user / item id.
        """
        from tfllm.recommendation.split import user_sequences

        data = self.dataset
        if user is None and history is None:
            raise UserInputError("give a user id or a history of item ids")
        if k < 1:
            raise UserInputError(f"k must be at least 1, got {k}")
        if (history is not None and user is None and self.model is not None
                and self.model.user_tower == "id"):
            raise UserInputError(
                "this model's user tower is a user-id embedding: it cannot "
                "recommend from a list of items alone; give a user id, or "
                "train --model text-two-tower (its user tower reads the "
                "history)")
        index = data.num_users
        items = []
        if user is not None:
            try:
                index = data.user_index(user)
            except KeyError:
                raise UserInputError(f"unknown user id {user!r}") from None
            if self._sequences is None:  # once, not per request
                self._sequences = user_sequences(data)
            items = list(self._sequences[index])
        if history is not None:
            items = []
            for raw in history:
                try:
                    items.append(data.item_index(raw))
                except KeyError:
                    raise UserInputError(
                        f"unknown item id {raw!r}") from None
        scores = np.array(self.score_fn(np.array([index], np.int32),
                                        [np.array(items, np.int32)])[0],
                          np.float64)
        scores[0] = -np.inf
        if exclude_seen and items:
            scores[items] = -np.inf
        best = np.argsort(-scores, kind="stable")[:k]
        return [{"item_id": data.item_ids[i - 1], "title": data.item_title(i),
                 "score": float(scores[i])} for i in best
                if np.isfinite(scores[i])]

    def export(self, export_base, k=10):
        """Writes a versioned SavedModel (`export_base/<version>/`).

        `serving_default` takes raw item ids (`item_ids`, tf.string
        `[batch, None]`, most recent last, "" pads) and returns the top-k
        `item_ids`, `titles` and `scores` with the request's items
        excluded; a text model also has `with_new_items` (plus
        `new_item_texts`). See `tfllm.export.recommender_serving`.

        Returns:
            `pathlib.Path` of the version folder.

        Raises:
            UserInputError: the popularity model (nothing to export).
        """
        from tfllm.export.recommender_serving import export_recommender

        if self.model is None:
            raise UserInputError("the popularity model has nothing to export")
        if self.model.user_tower == "id":
            raise UserInputError(
                "the SavedModel takes a user's recent item ids, and this "
                "model's user tower is a user-id embedding that cannot read "
                "them: export a --model text-two-tower run")
        data = self.dataset
        titles = [data.item_title(i + 1) for i in range(data.num_items)]
        return export_recommender(self.model, data.item_ids, titles,
                                  export_base, k=k)

    # --- saving -----------------------------------------------------------

    def save(self, folder):
        """Writes `model.keras` and `recommender.json` (settings, item
        counts) into `folder`, each atomically."""
        from tfllm.utils.atomic import atomic_path

        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.model is not None:
            with atomic_path(folder / MODEL_FILE) as temp:
                self.model.save(temp)
        state = {"config": dataclasses.asdict(self.config),
                 "source": self.dataset.source,
                 "num_items": self.dataset.num_items,
                 "item_counts": (None if self.item_counts is None
                                 else [int(c) for c in self.item_counts])}
        with atomic_path(folder / ITEMS_FILE) as temp:
            pathlib.Path(temp).write_text(json.dumps(state) + "\n")
        return folder

    @classmethod
    def load(cls, folder, dataset):
        """Loads a saved recommender for `dataset` (the same catalogue).

        Raises:
            UserInputError: the folder holds no recommender, or the
                catalogue size differs from the saved one.
        """
        folder = pathlib.Path(folder)
        state_file = folder / ITEMS_FILE
        if not state_file.is_file():
            raise UserInputError(f"{folder}: no {ITEMS_FILE}; expected a "
                                 "run folder of `tfllm recommend train`")
        state = json.loads(state_file.read_text())
        if state["num_items"] != dataset.num_items:
            raise UserInputError(
                f"{folder}: trained on {state['num_items']} items, the data "
                f"has {dataset.num_items}")
        config = RecommenderConfig(**state["config"])
        model = None
        if (folder / MODEL_FILE).is_file():
            import keras

            # Registers TwoTowerRecommender with Keras' deserializer.
            from tfllm.recommendation.two_tower import TwoTowerRecommender

            model = keras.models.load_model(folder / MODEL_FILE,
                                            compile=False)
            if not isinstance(model, TwoTowerRecommender):
                raise UserInputError(f"{folder / MODEL_FILE}: a "
                                     f"{type(model).__name__}, not a "
                                     "TwoTowerRecommender")
        counts = state.get("item_counts")
        return cls(dataset, config, model,
                   None if counts is None else np.asarray(counts))
