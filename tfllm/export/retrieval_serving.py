"""Raw-text SavedModel of an FAQ retriever: encoder, index and answers.

The `serving_default` signature takes a batch of raw texts (`tf.string`
`[batch]`, input name `text`), tokenizes and embeds them in-graph
(`SentenceEncoder.embed`), searches the FAQ vectors exactly (one matrix
product and `tf.math.top_k`; the vectors are a constant of the graph) and
returns, best first:

- `ids`: int32 `[batch, k]`, FAQ entry ids (rows of the index);
- `scores`: float32 `[batch, k]`, cosine similarities;
- `intents`: string `[batch, k]`, each entry's FAQ group (intent);
- `answers`: string `[batch, k]`, each entry's answer template;
- `questions`: string `[batch, k]`, each entry's indexed question;
- `intent`, `answer_template`: string `[batch]`, the best intent from
  the k entries (`max`: each intent's best entry; `vote`: a kNN vote; as
  `tfllm.retrieval.decisions.intent_probabilities`) and its template;
- `answer`: string `[batch]`, what to show the customer, as the
  assistant's `ask` gives it: the template, or the hand-over message when
  `handover` is true;
- `confidence`: float32 `[batch]`, the best score or the top intent
  probability (as the assistant was fitted);
- `handover`: bool `[batch]`, the confidence is under the fitted
  threshold: hand the query to a person.

The export loads without tfllm:

```python
import tensorflow as tf, tensorflow_text  # registers the tokenizer ops
serve = tf.saved_model.load("saved_models/faq/1").signatures[
    "serving_default"]
serve(text=tf.constant(["I still have not received my new card"]))
```
"""

import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfllm.export.versioned import next_version
from tfllm.export.versioned import share_variable_storage
from tfllm.peft.saving import merged_for_export
from tfllm.retrieval.decisions import HANDOVER_MESSAGE
from tfllm.utils.atomic import atomic_path

TEXT_SPEC = tf.TensorSpec([None], tf.string, name="text")
TASK_MARKER = "faq_retrieval"


def make_retrieval_serving_fn(encoder, vectors, payload, k=5,
                              threshold=None, aggregation="max",
                              confidence="score", scale=20.0,
                              handover_message=HANDOVER_MESSAGE):
    """Builds the raw-text serving function (outputs: module docstring).

    Args:
        encoder: `SentenceEncoder` with a preprocessor.
        vectors: float32 `[num_entries, dim]`, unit-length FAQ embeddings.
        payload: list of dicts with `question`, `intent`, `answer`, one per
            vector.
        k: int. Entries returned per query (capped at `num_entries`).
        threshold: float or None. Hand over when the confidence is below;
            None never hands over.
        aggregation: str. `"max"` or `"vote"`, as
            `tfllm.retrieval.decisions.intent_probabilities`.
        confidence: str. `"score"` (the best similarity) or `"probability"`
            (the top intent probability).
        scale: float. Inverse temperature of the intent probabilities.
        handover_message: str. The `answer` of a handed-over query.

    Returns:
        callable `text -> dict`; wrap it in `tf.function` with
        `[TEXT_SPEC]`.

    Raises:
        ValueError: unknown `aggregation` or `confidence`.
    """
    if aggregation not in ("max", "vote"):
        raise ValueError(f"aggregation must be max or vote: {aggregation!r}")
    if confidence not in ("score", "probability"):
        raise ValueError(f"confidence must be score or probability: "
                         f"{confidence!r}")
    names = sorted({str(p["intent"]) for p in payload})
    position = {name: i for i, name in enumerate(names)}
    answer_of = {}
    for p in payload:
        answer_of.setdefault(str(p["intent"]), str(p["answer"]))
    vectors = tf.constant(np.asarray(vectors, np.float32))
    entry_intent = tf.constant([position[str(p["intent"])] for p in payload],
                               tf.int32)
    intent_names = tf.constant(names)
    intent_answers = tf.constant([answer_of[n] for n in names])
    fields = {name: tf.constant([str(p[name]) for p in payload])
              for name in ("intent", "answer", "question")}
    k = min(int(k), len(payload))
    cut = tf.constant(-np.inf if threshold is None else threshold,
                      tf.float32)
    message = tf.constant(str(handover_message))

    def serve(text):
        queries = encoder.embed(text)  # (B, H)
        top = tf.math.top_k(tf.matmul(queries, vectors, transpose_b=True), k)
        # Intent probabilities from the k neighbours (decisions.py).
        weights = tf.exp(scale * (top.values - top.values[:, :1]))  # (B, k)
        one_hot = tf.one_hot(tf.gather(entry_intent, top.indices),
                             len(names))  # (B, k, G)
        weighted = weights[:, :, None] * one_hot
        per_intent = (tf.reduce_sum(weighted, 1) if aggregation == "vote"
                      else tf.reduce_max(weighted, 1))  # (B, G)
        probabilities = per_intent / tf.reduce_sum(per_intent, -1,
                                                   keepdims=True)
        best = tf.argmax(probabilities, -1, output_type=tf.int32)
        sure = (top.values[:, 0] if confidence == "score"
                else tf.reduce_max(probabilities, -1))
        template = tf.gather(intent_answers, best)
        return {
            "ids": top.indices,
            "scores": top.values,
            "intents": tf.gather(fields["intent"], top.indices),
            "answers": tf.gather(fields["answer"], top.indices),
            "questions": tf.gather(fields["question"], top.indices),
            "intent": tf.gather(intent_names, best),
            "answer_template": template,
            "answer": tf.where(sure < cut, message, template),
            "confidence": sure,
            "handover": sure < cut,
        }

    return serve


def export_retrieval(encoder, index, export_base, k=5, threshold=None,
                     version=None, aggregation="max", confidence="score",
                     scale=20.0, handover_message=HANDOVER_MESSAGE):
    """Writes a versioned FAQ-retrieval SavedModel, atomically.

    Args:
        encoder: `SentenceEncoder` with a preprocessor (LoRA/AdaLoRA merged
            into the kernels while writing, `merged_for_export`).
        index: `tfllm.retrieval.index.VectorIndex` whose payload items have
            `question`, `intent` and `answer`, built by `encoder`.
        export_base: str or path; versions are integer subfolders.
        k: int. Entries returned per query.
        threshold: float or None. See `make_retrieval_serving_fn`.
        version: int or None. None: one above the highest existing.
        aggregation, confidence, scale, handover_message: see
            `make_retrieval_serving_fn`.

    Returns:
        `pathlib.Path` of the version folder (it appears when complete).
        Its `assets/` hold `vocab.txt`, `task.txt` and `faq.json`
        (encoder name, vocabulary hash, k, threshold).

    Raises:
        ValueError: no preprocessor, or an index without payload.
    """
    if encoder.preprocessor is None:
        raise ValueError("export needs an encoder with a preprocessor")
    if index.payload is None:
        raise ValueError("the index has no payload (questions and answers)")
    version = next_version(export_base) if version is None else int(version)
    final = pathlib.Path(export_base) / str(version)
    serve = make_retrieval_serving_fn(encoder, index.vectors, index.payload,
                                      k, threshold, aggregation, confidence,
                                      scale, handover_message)
    with atomic_path(final) as temp, merged_for_export(encoder):
        archive = keras.export.ExportArchive()
        archive.track(encoder)
        archive.track(encoder.preprocessor)
        archive.add_endpoint(name="serving_default", fn=serve,
                             input_signature=[TEXT_SPEC])
        share_variable_storage(archive)
        archive.write_out(str(temp), verbose=False)
        assets = temp / "assets"
        assets.mkdir(exist_ok=True)
        (assets / "vocab.txt").write_text("\n".join(
            encoder.preprocessor.tokenizer.get_vocabulary()) + "\n")
        (assets / "task.txt").write_text(TASK_MARKER + "\n")
        (assets / "faq.json").write_text(json.dumps({
            "model_name": index.model_name,
            "vocabulary_sha256": index.vocabulary_hash,
            "entries": len(index), "k": min(int(k), len(index)),
            "threshold": threshold, "aggregation": aggregation,
            "confidence": confidence, "scale": scale}, indent=2) + "\n")
    return final
