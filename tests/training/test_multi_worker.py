"""Two MultiWorkerMirroredStrategy workers on localhost (issue 6)."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np

TESTS = pathlib.Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent("""
    import json, os, pathlib, sys, tempfile
    import numpy as np
    sys.path.insert(0, {tests!r})
    from tfllm.training.distribute import is_chief, make_strategy
    strategy = make_strategy(sys.argv[1])
    from training.test_trainer import run
    with strategy.scope():
        model = run(pathlib.Path(tempfile.mkdtemp()), "run", batch_size=8)
    np.savez(sys.argv[2], *model.get_weights())
    print(json.dumps({{"chief": is_chief(),
                       "replicas": strategy.num_replicas_in_sync}}))
""")


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def load(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def test_two_workers_train_identical_weights(tmp_path):
    code = WORKER.format(tests=str(TESTS))
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            [sys.executable, "-c", code, "multi_worker",
             str(tmp_path / f"worker{index}.npz")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=TESTS.parent))
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    infos = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [i["chief"] for i in infos] == [True, False]
    assert [i["replicas"] for i in infos] == [2, 2]
    w0, w1 = load(tmp_path / "worker0.npz"), load(tmp_path / "worker1.npz")
    initial = load_initial()
    for a, b, c in zip(w0, w1, initial):
        np.testing.assert_array_equal(a, b)
    assert any(np.abs(a - c).max() > 1e-4 for a, c in zip(w0, initial))


def load_initial():
    sys.path.insert(0, str(TESTS))
    from tiny import tiny_token_classifier
    return tiny_token_classifier(seed=0).get_weights()
