"""`tfllm.CausalLM`, `tfllm.generate` and the commands built on them."""

import io
import json

import numpy as np
import pytest

from tiny_lm import tiny_llama_backbone
from tiny_lm import write_tiny_gguf

import tfllm
from tfllm.cli import finetune_clm
from tfllm.cli import generate as generate_cli
from tfllm.cli.generate import split_prompts
from tfllm.data.prompt_response import PromptResponse
from tfllm.generation.config import GenerationConfig
from tfllm.models.sft_causal_lm import prompt_response_examples
from tfllm.runs.causal_lm import GenerateArgs
from tfllm.runs.causal_lm import read_prompts

PAIRS = [("hello", "world"), ("world", "hello"), ("hello world", "hello"),
         ("world hello", "world")]
WORDS = ["the", "board", "met", "in", "Lyon", "Anna", "hires", "."]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api_gguf")
    return write_tiny_gguf(folder / "tiny.gguf", tiny_llama_backbone())


def test_fine_tuning_from_python_equals_the_command(tiny_gguf, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n"
                            for p, r in PAIRS))
    run = finetune_clm.main([
        "--backbone", str(tiny_gguf), "--train-file", str(data),
        "--validation-fraction", "0.25", "--sequence-length", "32",
        "--epochs", "1", "--batch-size", "2", "--learning-rate", "1e-2",
        "--checkpoint-every-steps", "0", "--num-samples", "1",
        "--max-new-tokens", "3", "--output-dir", str(tmp_path),
        "--run-name", "cli"])
    cli_history = [json.loads(line) for line in
                   (run / "metrics.jsonl").read_text().splitlines()]

    model = tfllm.CausalLM.from_pretrained(tiny_gguf, sequence_length=32)
    history = model.fit(str(data), validation_fraction=0.25, epochs=1,
                        batch_size=2, learning_rate=1e-2,
                        checkpoint_every_steps=0, run_dir=tmp_path / "api")
    assert [r["val_loss"] for r in history] == pytest.approx(
        [r["val_loss"] for r in cli_history], rel=1e-6)
    assert history[0]["loss"] == pytest.approx(cli_history[0]["loss"],
                                               rel=1e-6)
    # The same validation pair, scored by evaluate() and generated for.
    held_out = model.last_fit["validation"]
    assert len(held_out) == 1
    best = min(r["val_loss"] for r in history)
    assert model.evaluate(held_out)["loss"] == pytest.approx(best, rel=1e-5)
    sample = json.loads((run / "samples.jsonl").read_text())
    assert sample["prompt"] == held_out[0].prompt
    assert model.generate(held_out[0].prompt, max_new_tokens=3) == \
        sample["generated"]


def test_causal_lm_from_scratch_on_texts(tmp_path):
    rng = np.random.default_rng(0)
    docs = [" ".join(rng.choice(WORDS, rng.integers(4, 9)))
            for _ in range(24)]
    train, held_out = docs[:20], docs[20:]
    model = tfllm.CausalLM.from_scratch(
        train, vocabulary_size=300, num_layers=2, num_heads=2,
        hidden_dim=16, sequence_length=16, dropout=0.0, seed=0)
    history = model.fit(train, validation_data=held_out, epochs=2,
                        batch_size=8, learning_rate=1e-2,
                        checkpoint_every_steps=0)
    before = model.last_fit["held_out_before"]
    best = min(history, key=lambda r: r["val_loss"])
    assert best["val_loss"] < before["loss"]
    scores = model.evaluate(held_out)
    assert scores["loss"] == pytest.approx(best["val_loss"], rel=1e-5)
    assert scores["perplexity"] == pytest.approx(np.exp(scores["loss"]))
    text = model.generate("the board", max_new_tokens=3)
    assert isinstance(text, str)
    # The preset folder reloads with the same scores.
    folder = model.save_pretrained(tmp_path / "preset")
    again = tfllm.CausalLM.from_pretrained(folder, sequence_length=16)
    assert again.evaluate(held_out)["loss"] == pytest.approx(
        scores["loss"], rel=1e-5)


def test_tfllm_generate_takes_a_path_a_model_or_token_ids(tiny_gguf):
    by_path = tfllm.generate(str(tiny_gguf), ["hello", "world hello"],
                             chat=False, max_new_tokens=3)
    model = tfllm.CausalLM.from_pretrained(tiny_gguf, chat_template=False)
    by_model = tfllm.generate(model, ["hello", "world hello"],
                              max_new_tokens=3)
    assert by_path == by_model and len(by_path) == 2
    assert model.generate("hello", max_new_tokens=3) == by_path[0]
    # Token ids: the low-level decoder (tfllm.generation.generate).
    from tfllm.generation.generate import generate

    ids = tfllm.generate(model.causal_lm(), [[5, 6, 7]], max_new_tokens=2)
    assert ids == generate(model.causal_lm(), [[5, 6, 7]],
                           GenerationConfig(max_new_tokens=2))
    assert len(ids[0]) <= 2 and all(isinstance(t, int) for t in ids[0])
    with pytest.raises(TypeError, match="max_tokens"):
        tfllm.generate(model, "hello", max_tokens=3)


def test_generate_command_takes_prompts_as_arguments_and_stdin(
        tiny_gguf, monkeypatch, capsys):
    texts = generate_cli.main(["--model", str(tiny_gguf), "hello",
                               "--no-chat", "--max-new-tokens", "2",
                               "world hello"])
    assert len(texts) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n\nworld hello\n"))
    capsys.readouterr()
    again = generate_cli.main(["--model", str(tiny_gguf), "--input", "-",
                               "--no-chat", "--max-new-tokens", "2",
                               "--json"])
    assert again == texts
    lines = [json.loads(line) for line in
             capsys.readouterr().out.splitlines()]
    assert lines[1] == {"prompt": "world hello", "completion": texts[1]}


def test_split_prompts_tells_flag_values_from_prompts():
    classes = [GenerateArgs, GenerationConfig]
    flags, prompts = split_prompts(
        ["Once upon", "--model", "m.gguf", "--no-chat", "--json",
         "--max-new-tokens=4", "a time", "-v", "--", "--not-a-flag"],
        classes)
    assert prompts == ["Once upon", "a time", "--not-a-flag"]
    assert flags == ["--model", "m.gguf", "--no-chat", "--json",
                     "--max-new-tokens=4", "-v"]


def test_read_prompts(tmp_path):
    from tfllm.data.errors import DataFormatError

    lines = tmp_path / "p.txt"
    lines.write_text("a b\n\n c\n")
    assert read_prompts(lines) == ["a b", " c"]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "x"}\n{"text": "y"}\n')
    with pytest.raises(DataFormatError, match="p.jsonl:2"):
        read_prompts(jsonl)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_prompts(tmp_path / "missing.txt")
    assert read_prompts("-", io.StringIO("q\n\n")) == ["q"]


def test_prompt_response_examples_accepts_pairs_dicts_and_records():
    examples = prompt_response_examples(
        [("p", "r"), {"prompt": "p2", "response": "r2", "system": "s"},
         PromptResponse("p3", "r3")])
    assert [(e.prompt, e.response, e.system) for e in examples] == [
        ("p", "r", None), ("p2", "r2", "s"), ("p3", "r3", None)]
    assert prompt_response_examples(["plain text", "more"]) is None
    assert prompt_response_examples("corpus.txt") is None
    with pytest.raises(TypeError, match=r"x\[1\]: expected a \(prompt"):
        prompt_response_examples([("p", "r"), 3], "x")
