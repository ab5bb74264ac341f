"""The task router (per-task adapters, task id unknown) (issue 31)."""

import numpy as np
import pytest

from tfllm.continual.routing import TaskRouter


def test_router_separates_tasks_and_respects_allowed():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, size=(200, 8))
    b = rng.normal(0.0, 1.0, size=(200, 8)) + 4.0
    router = TaskRouter()
    router.add_task(0, a[:100])
    router.add_task(1, b[:100])
    assert (router.predict(a[100:]) == 0).mean() > 0.99
    assert (router.predict(b[100:]) == 1).mean() > 0.99
    # only task 0 allowed: everything goes there
    assert set(router.predict(b[100:], allowed=[0])) == {0}


def test_router_errors():
    router = TaskRouter()
    with pytest.raises(ValueError, match="no task"):
        router.predict(np.zeros((1, 3)))
    router.add_task(0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dimension"):
        router.add_task(1, np.zeros((2, 4)))
