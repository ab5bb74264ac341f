import numpy as np
import pytest

from tfllm.generation.sampling import filter_logits
from tfllm.generation.sampling import greedy_tokens
from tfllm.generation.sampling import sample_tokens


def test_greedy_is_argmax():
    logits = np.random.default_rng(0).normal(size=(16, 40)).astype("float32")
    assert greedy_tokens(logits).numpy().tolist() == np.argmax(
        logits, -1).tolist()


def test_top_k_never_draws_outside_the_top_k():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(64, 30)).astype("float32")
    top3 = np.argsort(logits, -1)[:, -3:]
    seen = set()
    for step in range(20):
        drawn = sample_tokens(logits, 0, step, temperature=10.0,
                              top_k=3).numpy()
        assert all(t in row for t, row in zip(drawn, top3))
        seen.update(zip(range(64), drawn))
    # A high temperature spreads the draws over all three tokens.
    assert len(seen) > 64 * 2


def test_top_p_keeps_the_smallest_set_reaching_p():
    probabilities = np.array([[0.5, 0.05, 0.3, 0.15]])
    filtered = filter_logits(np.log(probabilities), top_p=0.8).numpy()
    assert np.isfinite(filtered).tolist() == [[True, False, True, False]]
    # The most likely token always survives.
    filtered = filter_logits(np.log(probabilities), top_p=0.1).numpy()
    assert np.isfinite(filtered).tolist() == [[True, False, False, False]]


def test_temperature_scales_and_seed_fixes_the_draw():
    logits = np.array([[2.0, 1.0, 0.0]], "float32")
    np.testing.assert_allclose(filter_logits(logits, temperature=0.5),
                               [[4.0, 2.0, 0.0]])
    a = sample_tokens(np.zeros((32, 50), "float32"), 5, 3).numpy()
    b = sample_tokens(np.zeros((32, 50), "float32"), 5, 3).numpy()
    assert a.tolist() == b.tolist()


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        filter_logits(np.zeros((1, 3)), temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        filter_logits(np.zeros((1, 3)), top_k=-1)


def test_chat_template_renders_and_reports_template_errors():
    from tfllm.generation.chat import render_chat_template

    template = ("{% if messages[0]['role'] != 'user' %}"
                "{{ raise_exception('first message must be a user turn') }}"
                "{% endif %}{{ bos_token }}{% for m in messages %}"
                "[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}")
    assert render_chat_template(
        template, [{"role": "user", "content": "Hi"}], bos_token="<s>") == (
        "<s>[user] Hi\n")
    with pytest.raises(ValueError, match="first message must be a user"):
        render_chat_template(template, [{"role": "system", "content": "x"}])
    with pytest.raises(ValueError, match="message 0 must be a dict"):
        render_chat_template(template, [("user", "Hi")])
