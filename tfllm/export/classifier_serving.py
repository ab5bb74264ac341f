"""Raw-text SavedModel export of a `TextClassifier` for TF Serving.

The `serving_default` signature takes a batch of raw texts (`tf.string`,
`[batch]`, input name `text`; pair models also take `text_pair`),
tokenizes, truncates and packs in-graph (tensorflow-text ops), so clients
send plain strings and tokenization cannot drift from training, and returns:

- `label`: string `[batch]`, the most probable label;
- `probability`: float32 `[batch]`, its probability;
- `probabilities`: float32 `[batch, num_labels]`, in `assets/labels.txt`
  order (softmax, or one sigmoid per label for multi-label models);
- `logits`: float32 `[batch, num_labels]`;
- multi-label models also: `predicted`: int32 `[batch, num_labels]`, 1
  where the probability reaches that label's threshold
  (`assets/thresholds.txt`).

Label names, vocabulary, thresholds and the preprocessor's word splitter
(`assets/word_splitter.txt`: `whitespace`, or `cjk_chars` when Chinese text
is split into characters in the graph before tokenizing) are written to
`assets/`. The export loads without tfllm:

```python
import tensorflow as tf, tensorflow_text  # registers the tokenizer ops
serve = tf.saved_model.load("saved_models/banking77/1").signatures[
    "serving_default"]
serve(text=tf.constant(["I still have not received my new card"]))
```
"""

import tensorflow as tf

from tfllm.export.versioned import write_version

TEXT_SPEC = tf.TensorSpec([None], tf.string, name="text")
TEXT_PAIR_SPEC = tf.TensorSpec([None], tf.string, name="text_pair")
TASK_MARKER = "text_classification"


def input_signature(model):
    """`[TEXT_SPEC]`, or `[TEXT_SPEC, TEXT_PAIR_SPEC]` for pair models."""
    return [TEXT_SPEC, TEXT_PAIR_SPEC] if model.text_pairs else [TEXT_SPEC]


def make_serving_fn(model):
    """Builds the raw-text serving function of a `TextClassifier`.

    Args:
        model: `TextClassifier` with a preprocessor.

    Returns:
        A callable `(text[, text_pair]) -> dict` of the outputs listed in
        the module docstring; wrap it in `tf.function` with
        `input_signature(model)`.
    """
    labels = tf.constant(model.id2label)

    def outputs(text, text_pair):
        logits = model.predict_logits(text, text_pair)
        probabilities = model.probabilities(logits)
        top = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        result = {
            "label": tf.gather(labels, top),
            "probability": tf.reduce_max(probabilities, axis=-1),
            "probabilities": probabilities,
            "logits": logits,
        }
        if model.multi_label:
            result["predicted"] = tf.cast(model.decide(probabilities),
                                          tf.int32)
        return result

    if model.text_pairs:
        return outputs

    def serve(text):
        return outputs(text, None)

    return serve


def export_classifier(model, export_base, version=None,
                      warmup_model_name=None):
    """Writes a TF Serving SavedModel version folder, atomically.

    Args:
        model: `TextClassifier` with a preprocessor.
        export_base: str or path. The folder TF Serving watches, e.g.
            `saved_models/banking77`; versions are integer subfolders.
        version: int or None. None means one above the highest existing.
        warmup_model_name: str or None. If given, TF Serving warm-up
            requests for this model name are written to
            `assets.extra/tf_serving_warmup_requests`
            (`tfllm.export.serving_warmup`).

    Returns:
        `pathlib.Path` of the written version folder (it appears only when
        complete).

    Raises:
        ValueError: the model has no preprocessor.
    """
    assets = {"task.txt": TASK_MARKER + "\n",
              "word_splitter.txt": getattr(
                  model.preprocessor, "word_splitter", "whitespace") + "\n"}
    if model.multi_label:
        assets["thresholds.txt"] = "\n".join(
            str(t) for t in model.thresholds) + "\n"
    return write_version(
        model, export_base, make_serving_fn(model), input_signature(model),
        assets=assets, version=version,
        before_rename=_warmup(model, warmup_model_name),
    )


def _warmup(model, model_name):
    if model_name is None:
        return None
    from tfllm.export.serving_warmup import write_warmup_file

    if model.text_pairs:  # two string inputs
        return lambda folder: write_warmup_file(
            folder, model_name, input_names=("text", "text_pair"))
    return lambda folder: write_warmup_file(folder, model_name)
