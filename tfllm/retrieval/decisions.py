"""From retrieved neighbours to an intent, an answer or a hand-over.

- `intent_probabilities`: per-intent scores from the top-k neighbours,
  `"max"` (each intent's best neighbour, softmax over intents: the top-1
  entry's intent wins) or `"vote"` (a kNN vote, each neighbour weighted by
  `exp(scale * score)`).
- `combine`: a weighted mean of the classifier's and retrieval's intent
  probabilities; `fit_weight` picks the weight on held-out data.
- `fit_threshold` / `fallback_report`: the hand-over rule. The assistant
  hands a query to a person when its confidence is under a threshold; the
  event to catch is "the answer would be wrong", so the threshold maximises
  the F1 of flagging wrong answers on fitting data (scikit-learn's
  precision-recall curve), and is then reported on other data.
"""

import numpy as np
from sklearn.metrics import precision_recall_curve
from sklearn.metrics import precision_recall_fscore_support

AGGREGATIONS = ("max", "vote")

# What a handed-over query is answered with (the assistant's `ask` and the
# SavedModel's `answer`); `FaqAssistant(handover_message=...)` changes it.
HANDOVER_MESSAGE = ("I am not sure I understood. I am handing you over to a "
                    "member of our team.")


def intent_probabilities(scores, ids, entry_intents, num_intents,
                         method="max", scale=20.0):
    """Intent probabilities of queries from their retrieved neighbours.

    Args:
        scores: float `[num_queries, k]`, similarities best first.
        ids: int `[num_queries, k]`, neighbour entry ids.
        entry_intents: int `[num_entries]`, each entry's intent id.
        num_intents: int.
        method: str. `"max"` or `"vote"` (module docstring).
        scale: float. Inverse temperature of the softmax / vote weights
            (20, the MNRL scale the encoder is trained with).

    Returns:
        float64 `[num_queries, num_intents]`, rows summing to 1; intents
        without a neighbour in the top k get 0.

    Raises:
        ValueError: unknown `method`.
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}: "
                         f"{method!r}")
    scores = np.asarray(scores, np.float64)
    intents = np.asarray(entry_intents)[np.asarray(ids)]  # (Q, k)
    rows = np.arange(len(scores))[:, None]
    weights = np.exp(scale * (scores - scores[:, :1]))  # best neighbour 1
    out = np.zeros((len(scores), num_intents))
    index = (np.broadcast_to(rows, intents.shape), intents)
    if method == "vote":
        np.add.at(out, index, weights)
    else:
        np.maximum.at(out, index, weights)
    return out / out.sum(axis=1, keepdims=True)


def combine(classifier_probabilities, retrieval_probabilities, weight):
    """`weight * classifier + (1 - weight) * retrieval` probabilities.

    Args:
        classifier_probabilities: float `[num_queries, num_intents]`.
        retrieval_probabilities: float `[num_queries, num_intents]`, same
            intent order.
        weight: float in [0, 1].

    Returns:
        float64 `[num_queries, num_intents]`.
    """
    return (weight * np.asarray(classifier_probabilities, np.float64)
            + (1.0 - weight) * np.asarray(retrieval_probabilities,
                                          np.float64))


def fit_weight(classifier_probabilities, retrieval_probabilities, gold,
               grid=np.linspace(0.0, 1.0, 11)):
    """The weight of `combine` with the best accuracy on fitting data.

    Args:
        gold: int `[num_queries]` intent ids.
        grid: weights tried; ties go to the first (smallest) one.

    Returns:
        `(weight, accuracy)` floats.
    """
    best = (0.0, -1.0)
    for weight in grid:
        predicted = combine(classifier_probabilities, retrieval_probabilities,
                            weight).argmax(axis=1)
        accuracy = float(np.mean(predicted == np.asarray(gold)))
        if accuracy > best[1]:
            best = (float(weight), accuracy)
    return best


def fit_threshold(confidence, correct):
    """The hand-over threshold that best flags wrong answers (max F1).

    A query is handed over when `confidence < threshold`; the positives
    are the queries whose answer is wrong.

    Args:
        confidence: float `[num_queries]`, e.g. the best similarity or the
            top intent probability.
        correct: bool `[num_queries]`, whether the answer is right.

    Returns:
        float threshold. With no wrong answer to catch, the smallest
        confidence (nobody is handed over).
    """
    confidence = np.asarray(confidence, np.float64)
    wrong = ~np.asarray(correct, bool)
    if not wrong.any():
        return float(confidence.min())
    # Score "wrongness" as -confidence: flagged when -confidence >= -t.
    precision, recall, cuts = precision_recall_curve(wrong, -confidence)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1[:-1]))
    # Handed over when confidence <= -cut; as a strict `<` rule, the
    # threshold sits just above that confidence.
    return float(np.nextafter(-cuts[best], np.inf))


def fallback_report(confidence, correct, threshold):
    """How a threshold does at catching wrong answers.

    Returns:
        dict: `threshold`, `handover_rate` (share handed over),
        `precision` (handed-over queries that would have been wrong),
        `recall` (wrong answers that were handed over), `f1`,
        `answered_accuracy` (accuracy of the answered queries) and
        `num_queries`.
    """
    confidence = np.asarray(confidence, np.float64)
    correct = np.asarray(correct, bool)
    handed = confidence < threshold
    wrong = ~correct
    precision, recall, f1, _ = precision_recall_fscore_support(
        wrong, handed, average="binary", pos_label=True, zero_division=0)
    answered = ~handed
    return {
        "threshold": float(threshold),
        "handover_rate": float(handed.mean()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "answered_accuracy": float(correct[answered].mean())
        if answered.any() else 0.0,
        "num_queries": int(len(correct)),
    }
