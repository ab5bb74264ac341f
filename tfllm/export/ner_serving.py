"""Raw-text SavedModel export of a `TokenClassifier` for TF Serving.

The `serving_default` signature takes a batch of sentences (`tf.string`,
`[batch]`, input name `text`), splits each into words with the model's
`word_splitter` (whitespace for CoNLL, one word per CJK character for
Chinese; `tfllm.preprocessing.word_splitter`), tokenizes in-graph
(tensorflow-text ops), runs the model over sub-token windows (so any
length works) and returns dense tensors, since TF Serving cannot return
ragged ones. Label names and the
vocabulary are written to `assets/` as `labels.txt` and `vocab.txt`, the
word splitter to `assets/word_splitter.txt`. A model with lexicon features
computes its lexicon classes in the graph too (the lexicon's hash table is
saved in the SavedModel; `tfllm.preprocessing.lexicon`).

The export loads and runs in a process that imports only TensorFlow and
tensorflow-text:

```python
import tensorflow as tf, tensorflow_text  # registers the tokenizer ops
serve = tf.saved_model.load("saved_models/ner/1").signatures["serving_default"]
serve(text=tf.constant(["EU rejects German call to boycott British lamb ."]))
```
"""

import tensorflow as tf

from tfllm.export.entities import decode_entities
from tfllm.export.entities import label_tables
from tfllm.export.versioned import write_version
from tfllm.preprocessing.word_splitter import split_words

TEXT_SPEC = tf.TensorSpec([None], tf.string, name="text")


def _char_offset(text, byte_offset, rows):
    """Converts byte offsets into Unicode code point offsets."""
    prefix = tf.strings.substr(
        tf.gather(text, rows), tf.zeros_like(byte_offset), byte_offset
    )
    return tf.strings.length(prefix, unit="UTF8_CHAR")


def _argmax_labels(word_logits):
    """int32 ragged label ids: each word's argmax."""
    return word_logits.with_flat_values(tf.argmax(
        word_logits.flat_values, axis=-1, output_type=tf.int32))


def make_serving_fn(model):
    """Builds the raw-text serving function of a `TokenClassifier`.

    Tags come from `model.decode_word_logits` (argmax, or Viterbi in the
    graph for a CRF head); a model without it (a stand-in with only
    `predict_word_logits`) is decoded by argmax. A span head (GlobalPointer)
    writes its best non-overlapping spans as IOB2 tags
    (`TokenClassifier.decode_word_tags`).

    Args:
        model: `TokenClassifier` with a preprocessor.

    Returns:
        A callable `text -> dict` (wrap in `tf.function` with `TEXT_SPEC`):
        - `words`, `tags`: string `[batch, max_words]`, padded with `""`.
        - `scores`: float32 `[batch, max_words]`, softmax probability of each
          tag under the word's logits, padded with 0 (for a CRF head, the
          emission softmax at the Viterbi tag; for a span head, the sigmoid
          of the entity span's score, or for an `O` word 1 minus that of
          the best span starting or ending at it).
        - `num_words`, `num_entities`: int32 `[batch]`.
        - `entity_types`, `entity_texts`: string `[batch, max_entities]`.
        - `entity_starts`, `entity_ends`: int32 `[batch, max_entities]`,
          character (Unicode code point) offsets into the input, end
          exclusive, padded with -1.
    """
    id2label = list(model.id2label)
    _, _, type_names = label_tables(id2label)
    labels = tf.constant(id2label)
    types = tf.constant(type_names or [""])
    word_splitter = getattr(
        getattr(model, "preprocessor", None), "word_splitter", "whitespace")
    decode = getattr(model, "decode_word_logits", _argmax_labels)

    def serve(text):
        words, byte_starts, byte_ends = split_words(text, word_splitter)
        words = words.with_row_splits_dtype(tf.int64)
        logits = model.predict_word_logits(words)
        if getattr(model, "span_head", False):
            tags, confidence = model.decode_word_tags(logits)
            tag_ids = words.with_flat_values(tags.flat_values)
            tag_scores = confidence.flat_values
        else:
            probabilities = tf.nn.softmax(logits.flat_values, axis=-1)
            tag_ids = words.with_flat_values(decode(logits).flat_values)
            tag_scores = tf.gather(probabilities, tag_ids.flat_values,
                                   batch_dims=1)
        entities = decode_entities(tag_ids, id2label)

        # Entity offsets: bytes of the first and last word, then characters.
        sentence = tf.cast(entities["start"].value_rowids(), tf.int32)
        first = entities["start"].flat_values + tf.gather(
            tf.cast(words.row_starts(), tf.int32), sentence
        )
        last = entities["end"].flat_values - 1 + tf.gather(
            tf.cast(words.row_starts(), tf.int32), sentence
        )
        byte_start = tf.gather(byte_starts.flat_values, first)
        byte_end = tf.gather(byte_ends.flat_values, last)
        entity_text = tf.strings.substr(
            tf.gather(text, sentence), byte_start, byte_end - byte_start
        )
        char_start = _char_offset(text, byte_start, sentence)
        char_end = _char_offset(text, byte_end, sentence)

        def dense(values, like, default):
            return like.with_flat_values(values).to_tensor(default)

        like = entities["start"]
        return {
            "words": words.to_tensor(""),
            "tags": tag_ids.with_flat_values(
                tf.gather(labels, tag_ids.flat_values)
            ).to_tensor(""),
            "scores": tag_ids.with_flat_values(tag_scores).to_tensor(0.0),
            "num_words": tf.cast(words.row_lengths(), tf.int32),
            "entity_types": dense(
                tf.gather(types, entities["type"].flat_values), like, ""
            ),
            "entity_starts": dense(tf.cast(char_start, tf.int32), like, -1),
            "entity_ends": dense(tf.cast(char_end, tf.int32), like, -1),
            "entity_texts": dense(entity_text, like, ""),
            "num_entities": tf.cast(like.row_lengths(), tf.int32),
        }

    return serve


def export_ner(model, export_base, version=None, warmup_model_name=None):
    """Writes a TF Serving SavedModel version folder, atomically.

    Args:
        model: `TokenClassifier` with a preprocessor.
        export_base: str or path. The model folder TF Serving watches, e.g.
            `saved_models/ner`; versions are integer subfolders.
        version: int or None. None means one above the highest existing.
        warmup_model_name: str or None. If given, TF Serving warm-up
            requests for this model name are written to
            `assets.extra/tf_serving_warmup_requests`
            (`tfllm.export.serving_warmup`).

    Returns:
        `pathlib.Path` of the written version folder.

    Raises:
        ValueError: the model has no preprocessor.
    """
    word_splitter = model.preprocessor.word_splitter
    return write_version(
        model, export_base, make_serving_fn(model), [TEXT_SPEC],
        assets={"word_splitter.txt": word_splitter + "\n"}, version=version,
        before_rename=_warmup(model, warmup_model_name),
    )


def _warmup(model, model_name):
    if model_name is None:
        return None
    from tfllm.export.serving_warmup import write_warmup_file
    return lambda folder: write_warmup_file(folder, model_name)
