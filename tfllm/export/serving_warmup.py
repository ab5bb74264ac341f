"""TF Serving warm-up requests and model config for raw-text SavedModels.

TF Serving replays `assets.extra/tf_serving_warmup_requests` (a TFRecord
file of `tensorflow.serving.PredictionLog` protos) when it loads a version,
so the first client request does not pay for graph tracing and memory
allocation (https://www.tensorflow.org/tfx/serving/saved_model_warmup).
The protos come from the `tensorflow-serving-api` package.
"""

import tensorflow as tf

WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"

DEFAULT_WARMUP_TEXTS = (
    "EU rejects German call to boycott British lamb .",
    "I still have not received my new card",
    "Peter Blackburn",
    "",
)


def warmup_records(model_name, texts=DEFAULT_WARMUP_TEXTS, batch_sizes=(1, 8),
                   signature_name="serving_default", input_names=("text",)):
    """Serialized `PredictionLog` records of `predict` requests on texts.

    Args:
        model_name: str. The name TF Serving serves the model under.
        texts: sequence of str. Request contents; repeated to fill batches.
        batch_sizes: sequence of int. One request per batch size.
        signature_name: str. Signature the requests call.
        input_names: sequence of str. The string inputs (each gets the
            same texts).

    Returns:
        list of bytes, one serialized `PredictionLog` per request.
    """
    from tensorflow_serving.apis import model_pb2
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for size in batch_sizes:
        batch = [texts[i % len(texts)] for i in range(size)]
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(
                name=model_name, signature_name=signature_name),
        )
        for name in input_names:
            request.inputs[name].CopyFrom(
                tf.make_tensor_proto(batch, dtype=tf.string))
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request))
        records.append(log.SerializeToString())
    return records


def write_warmup_file(version_dir, model_name, **kwargs):
    """Writes the warm-up TFRecord into a version folder being written.

    Args:
        version_dir: path of the (temporary) version folder.
        model_name: str. See `warmup_records`; kwargs go there too.

    Returns:
        Path of the TFRecord file.
    """
    import pathlib

    path = pathlib.Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in warmup_records(model_name, **kwargs):
            writer.write(record)
    return path


def read_warmup_file(path):
    """Parses a warm-up file into `PredictionLog` protos (for checks)."""
    from tensorflow_serving.apis import prediction_log_pb2

    logs = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record)
        logs.append(log)
    return logs


def models_config(models):
    """A TF Serving `--model_config_file` text (`ModelServerConfig`).

    Args:
        models: dict name -> base path as the server sees it (e.g.
            `{"ner": "/models/ner"}`).

    Returns:
        str in protobuf text format.
    """
    entries = "".join(
        "  config {\n"
        f'    name: "{name}"\n'
        f'    base_path: "{path}"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        for name, path in models.items()
    )
    return "model_config_list {\n" + entries + "}\n"
