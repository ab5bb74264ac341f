"""Choosing a `tf.distribute` strategy and the chief worker.

- `one_device`: the default device.
- `mirrored`: synchronous data parallelism over this host's GPUs (or, for
  tests, logical CPU devices), `tf.distribute.MirroredStrategy`.
- `multi_worker`: synchronous data parallelism over hosts, described by the
  `TF_CONFIG` environment variable,
  `tf.distribute.MultiWorkerMirroredStrategy`.
- `auto`: `multi_worker` when `TF_CONFIG` names several workers, `mirrored`
  with more than one GPU, else `one_device`.

The batch size given to tfllm is the global batch size; Keras splits it over
replicas, and loss objects scale by the replica count, so the update is the
one a single device would make with the whole batch.
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def _cluster():
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return config.get("cluster", {}), config.get("task", {})


def make_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` for `name`.

    Must be called before any other TensorFlow op for `multi_worker`.

    Args:
        name: str, one of `STRATEGIES`.

    Returns:
        `tf.distribute.Strategy`.

    Raises:
        ValueError: unknown name, or `multi_worker` without `TF_CONFIG`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    cluster, _ = _cluster()
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if name == "auto":
        if workers > 1:
            name = "multi_worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "one_device"
    if name == "multi_worker":
        if not cluster:
            raise ValueError(
                "strategy multi_worker needs TF_CONFIG with a cluster spec "
                '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]},'
                ' "task": {"type": "worker", "index": 0}})'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief():
    """True for the worker that writes checkpoints, logs and exports.

    That is the `chief` task, or worker 0 when the cluster has no chief, or
    the only process when there is no `TF_CONFIG`.
    """
    cluster, task = _cluster()
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
