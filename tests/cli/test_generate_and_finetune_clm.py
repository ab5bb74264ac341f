import json

import pytest

from tiny_lm import tiny_llama_backbone
from tiny_lm import write_tiny_gguf

from tfllm.cli import finetune_clm
from tfllm.cli import generate as generate_cli


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_gguf")
    return write_tiny_gguf(folder / "tiny.gguf", tiny_llama_backbone())


def test_finetune_then_generate_from_the_run(tiny_gguf, tmp_path, capsys):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(
        json.dumps({"prompt": p, "response": r}) + "\n"
        for p, r in [("hello", "world"), ("world", "hello"),
                     ("hello world", "hello"), ("world hello", "world")]))
    run_dir = finetune_clm.main([
        "--model", str(tiny_gguf), "--train-file", str(data),
        "--validation-fraction", "0.25", "--sequence-length", "32",
        "--epochs", "1", "--batch-size", "2", "--checkpoint-every-steps", "0",
        "--num-samples", "1", "--max-new-tokens", "3",
        "--output-dir", str(tmp_path), "--run-name", "sft"])
    assert (run_dir / "model.keras").is_file()
    sample = json.loads((run_dir / "samples.jsonl").read_text())
    assert set(sample) == {"prompt", "reference", "generated"}
    capsys.readouterr()
    texts = generate_cli.main([
        "--model", str(run_dir), "--prompt", "hello", "--max-new-tokens",
        "3", "--json"])
    printed = json.loads(capsys.readouterr().out.strip())
    assert printed == {"prompt": "hello", "completion": texts[0]}


def test_generate_from_a_gguf_file_reads_a_prompt_file(tiny_gguf, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("hello\nworld hello\n")
    texts = generate_cli.main([
        "--model", str(tiny_gguf), "--prompt-file", str(prompts),
        "--no-chat", "--max-new-tokens", "2", "--strategy", "beam",
        "--num-beams", "2"])
    assert len(texts) == 2


def test_finetune_bad_line_is_reported_with_file_and_line(tmp_path):
    from tfllm.data.errors import DataFormatError

    data = tmp_path / "pairs.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "a"}\n')
    with pytest.raises(DataFormatError, match="pairs.jsonl:2: no key"):
        finetune_clm.main(["--train-file", str(data),
                           "--output-dir", str(tmp_path)])
