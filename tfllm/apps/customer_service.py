"""A customer-service FAQ assistant: retrieval, a classifier, hand-over.

A query is embedded by a `SentenceEncoder` and searched in a `VectorIndex`
of FAQ questions (each with an intent and an answer template). The top-k
neighbours give intent probabilities (`tfllm.retrieval.decisions`:
each intent's best neighbour, or a kNN vote); with a tfllm text classifier
the two are mixed (`weight * classifier + (1 - weight) * retrieval`). The
assistant answers with the best intent's answer template, or hands the
query to a person when its confidence (the best cosine score for retrieval
alone, or the top intent probability; the top mixed probability with a
classifier) is under a threshold
fitted on validation data (`fit_threshold`: the threshold that best flags
wrong answers).

An assistant folder is the index folder (`VectorIndex.save`) plus
`assistant.json`: encoder source, threshold, k, aggregation, classifier
path and weight. `FaqAssistant.load` refuses an index whose encoder or
vocabulary differs from the encoder it loads.
"""

import json
import pathlib

import numpy as np

from tfllm.retrieval.decisions import HANDOVER_MESSAGE
from tfllm.retrieval.decisions import combine
from tfllm.retrieval.decisions import intent_probabilities
from tfllm.retrieval.embedding import embed_texts
from tfllm.retrieval.embedding import load_sentence_encoder
from tfllm.retrieval.embedding import vocabulary_fingerprint
from tfllm.retrieval.index import VectorIndex
from tfllm.utils.atomic import atomic_path

SETTINGS_FILE = "assistant.json"


def build_index(encoder, entries, model_name, backend="auto",
                batch_size=128):
    """Embeds FAQ entries into a `VectorIndex` with their payload.

    Args:
        encoder: `SentenceEncoder`.
        entries: list of `tfllm.retrieval.faq_files.FaqEntry`.
        model_name: str. The encoder's source (backbone name or run
            folder), stored with the index.
        backend: str. See `VectorIndex`.

    Returns:
        `VectorIndex`.
    """
    vectors = embed_texts(encoder, [e.question for e in entries], batch_size)
    return VectorIndex(
        vectors, model_name,
        vocabulary_fingerprint(encoder.preprocessor.tokenizer),
        [e.to_payload() for e in entries], backend)


class FaqAssistant:
    """Answers queries from an FAQ index, optionally with a classifier.

    Args:
        encoder: `SentenceEncoder` that built `index`.
        index: `VectorIndex` whose payload items have `question`, `intent`
            and `answer`.
        threshold: float or None. Hand over when the confidence is below;
            None never hands over.
        classifier: None or a callable `list of str -> float [n,
            num_labels]` probabilities with an `id2label` list (e.g.
            `ClassifierProbabilities`); its labels are matched to the
            index's intents by name (missing intents get 0).
        classifier_weight: float in [0, 1]. Weight of the classifier in the
            mix; 0 without a classifier.
        k: int. Neighbours retrieved per query.
        aggregation: str. `"max"` or `"vote"`.
        scale: float. Softmax inverse temperature of retrieval scores.
        handover_message: str.
        confidence: str. Without a classifier, `"score"` (the best
            similarity) or `"probability"` (the top intent probability);
            with one, always the top mixed probability.

    Raises:
        ValueError: an index without payload, or an unknown `confidence`.
    """

    def __init__(self, encoder, index, threshold=None, classifier=None,
                 classifier_weight=0.0, k=5, aggregation="max", scale=20.0,
                 handover_message=HANDOVER_MESSAGE, confidence="score"):
        if index.payload is None:
            raise ValueError("the index has no payload (questions/answers)")
        if confidence not in ("score", "probability"):
            raise ValueError(f"confidence must be score or probability: "
                             f"{confidence!r}")
        self.confidence = confidence
        self.encoder = encoder
        self.index = index
        self.threshold = threshold
        self.classifier = classifier
        self.classifier_weight = float(classifier_weight if classifier
                                       else 0.0)
        self.k = int(k)
        self.aggregation = aggregation
        self.scale = float(scale)
        self.handover_message = handover_message
        self.intents = sorted({p["intent"] for p in index.payload})
        position = {name: i for i, name in enumerate(self.intents)}
        self.entry_intents = np.array(
            [position[p["intent"]] for p in index.payload])
        self.answers = {}
        for item in index.payload:
            self.answers.setdefault(item["intent"], item["answer"])

    def retrieve(self, texts, k=None):
        """`(scores, ids)` `[n, k]` of the nearest FAQ entries."""
        return self.index.search(embed_texts(self.encoder, list(texts)),
                                 k or self.k)

    def classifier_probabilities(self, texts):
        """The classifier's probabilities in the index's intent order."""
        probabilities = np.asarray(self.classifier(list(texts)))
        out = np.zeros((len(texts), len(self.intents)))
        position = {name: i for i, name in enumerate(self.intents)}
        for column, name in enumerate(self.classifier.id2label):
            if name in position:
                out[:, position[name]] = probabilities[:, column]
        return out

    def score(self, texts):
        """Intent probabilities, confidences and the retrieved neighbours.

        Returns:
            dict: `probabilities` float `[n, num_intents]` (mixed when a
            classifier is set), `retrieval` (retrieval's alone),
            `confidence` float `[n]`, `scores`, `ids` `[n, k]`.
        """
        scores, ids = self.retrieve(texts)
        retrieval = intent_probabilities(scores, ids, self.entry_intents,
                                         len(self.intents), self.aggregation,
                                         self.scale)
        probabilities = retrieval
        confidence = (scores[:, 0].astype(np.float64)
                      if self.confidence == "score"
                      else retrieval.max(axis=1))
        if self.classifier is not None:
            probabilities = combine(self.classifier_probabilities(texts),
                                    retrieval, self.classifier_weight)
            confidence = probabilities.max(axis=1)
        return {"probabilities": probabilities, "retrieval": retrieval,
                "confidence": confidence, "scores": scores, "ids": ids}

    def answer(self, texts):
        """Answers queries.

        Args:
            texts: list of str (or one str).

        Returns:
            list of dicts: `query`, `intent` (best intent), `answer` (its
            template, or the hand-over message), `handover` (bool),
            `confidence` (float), `top` (the k entries: `id`, `question`,
            `intent`, `score`).
        """
        if isinstance(texts, str):
            texts = [texts]
        out = self.score(texts)
        results = []
        for row, query in enumerate(texts):
            intent = self.intents[int(out["probabilities"][row].argmax())]
            confidence = float(out["confidence"][row])
            handover = (self.threshold is not None
                        and confidence < self.threshold)
            results.append({
                "query": query,
                "intent": intent,
                "answer": (self.handover_message if handover
                           else self.answers[intent]),
                "handover": bool(handover),
                "confidence": confidence,
                "top": [{"id": int(i), "question":
                         self.index.payload[i]["question"],
                         "intent": self.index.payload[i]["intent"],
                         "score": float(s)}
                        for s, i in zip(out["scores"][row], out["ids"][row])],
            })
        return results

    def settings(self):
        """The `assistant.json` content: the constructor's settings, the
        classifier's `path` (if any) and the `extra_settings` dict
        attribute, if set (e.g. `retrieval_threshold`)."""
        return {
            "encoder": self.index.model_name,
            "threshold": self.threshold,
            "k": self.k,
            "aggregation": self.aggregation,
            "scale": self.scale,
            "classifier": getattr(self.classifier, "path", None),
            "classifier_weight": self.classifier_weight,
            "handover_message": self.handover_message,
            "confidence": self.confidence,
            **getattr(self, "extra_settings", {}),
        }

    def save(self, folder):
        """Writes the index and `assistant.json` into `folder`."""
        folder = pathlib.Path(folder)
        self.index.save(folder)
        with atomic_path(folder / SETTINGS_FILE) as temp:
            temp.write_text(json.dumps(self.settings(), indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder, encoder=None):
        """Loads an assistant folder (the encoder from its settings).

        Raises:
            FileNotFoundError: no index or `assistant.json`.
            StaleIndexError: the encoder's name or vocabulary differs from
                the index's.
        """
        folder = pathlib.Path(folder)
        path = folder / SETTINGS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: no {SETTINGS_FILE}; build "
                                    "the assistant first")
        settings = json.loads(path.read_text())
        source = settings["encoder"]
        if encoder is None:
            encoder = load_sentence_encoder(source)
        index = VectorIndex.load(
            folder, source, vocabulary_fingerprint(encoder.preprocessor.
                                                   tokenizer))
        classifier = None
        if settings.get("classifier"):
            classifier = ClassifierProbabilities(settings["classifier"])
        assistant = cls(
            encoder, index, settings["threshold"], classifier,
            settings.get("classifier_weight", 0.0), settings["k"],
            settings["aggregation"], settings.get("scale", 20.0),
            settings.get("handover_message", HANDOVER_MESSAGE),
            settings.get("confidence", "score"))
        known = set(assistant.settings())
        assistant.extra_settings = {key: value for key, value in
                                    settings.items() if key not in known}
        return assistant


class ClassifierProbabilities:
    """A tfllm text classifier as `texts -> probabilities [n, labels]`.

    Args:
        path: str. A `train_classifier` run folder, `.keras` file or
            SavedModel export (`tfllm.inference.classifier.
            ClassifierPredictor`).
        batch_size: int. Texts per call.
    """

    def __init__(self, path, batch_size=256):
        from tfllm.inference.classifier import ClassifierPredictor

        self.path = str(path)
        self.batch_size = batch_size
        self._predictor = ClassifierPredictor(path)
        self.id2label = list(self._predictor.id2label)

    def __call__(self, texts):
        rows = []
        for start in range(0, len(texts), self.batch_size):
            for result in self._predictor(texts[start:start
                                                + self.batch_size]):
                rows.append([result["probabilities"][name]
                             for name in self.id2label])
        return np.asarray(rows, np.float64).reshape(len(texts), -1)


# Reply wording by a causal LM (retrieval-augmented generation). The
# approved answer is the retrieved template; the model only rewords it, and
# the output is marked as generated (`generated_reply`, `generated_by`).
REPLY_SYSTEM_PROMPT = (
    "You are a bank's customer-service assistant. Rewrite the approved "
    "answer as a short, polite reply to the customer. Use only the facts "
    "in the approved answer.")


def reply_prompt(query, answer):
    """The user turn given to the LM for one answered query."""
    return f"Customer: {query}\nApproved answer: {answer}\nReply:"


def add_generated_replies(results, causal_lm, preprocessor, config=None,
                          model_name="smollm2"):
    """Adds an LM-worded reply to each answered (not handed-over) result.

    Args:
        results: list of dicts from `FaqAssistant.answer` (changed in
            place).
        causal_lm, preprocessor: from `tfllm.generation.text.
            load_generator` (e.g. `load_generator("smollm2",
            system_prompt=REPLY_SYSTEM_PROMPT)`: SmolLM2's chat template).
        config: `tfllm.generation.GenerationConfig` or None (greedy, 32
            new tokens).
        model_name: str. Recorded in `generated_by`.

    Returns:
        `results`; answered ones gain `generated_reply` (str, the LM's
        text: not checked against the FAQ) and `generated_by`. The
        approved `answer` is kept unchanged beside it.
    """
    from tfllm.generation.text import generate_text

    answered = [r for r in results if not r["handover"]]
    if not answered:
        return results
    texts, _ = generate_text(
        causal_lm, preprocessor,
        [reply_prompt(r["query"], r["answer"]) for r in answered], config)
    for result, text in zip(answered, texts):
        result["generated_reply"] = text.strip()
        result["generated_by"] = model_name
    return results
