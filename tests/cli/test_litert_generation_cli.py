"""`tfllm export --task causal-lm --format litert`, `tfllm generate
--engine litert` and `tfllm.generate` on a bundle: a tiny GGUF Llama with
its byte-level BPE tokenizer and ChatML template."""

import json

import pytest

from tiny_lm import tiny_llama_backbone
from tiny_lm import write_tiny_gguf

from tfllm.cli import export as export_cli
from tfllm.cli import generate as generate_cli


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("litert_cli")
    gguf = write_tiny_gguf(folder / "tiny.gguf", tiny_llama_backbone(seed=5))
    result = export_cli.main([
        "--task", "causal-lm", "--format", "litert", "--model", str(gguf),
        "--recipes", "fp32", "--max-length", "96",
        "--prefill-lengths", "8,16", "--litert-dir", str(folder / "b")])
    return gguf, folder / "b", result


def test_export_writes_the_bundle_and_verifies_it(bundle):
    _, folder, result = bundle
    settings = json.loads((folder / "generation.json").read_text())
    assert settings["model_files"] == {"fp32": "model_fp32.tflite"}
    assert settings["stop_token_ids"] == [2]  # <|im_end|> of the GGUF file
    assert settings["use_chat_template"] is True
    assert (folder / "tokenizer" / "config.json").is_file()
    check = json.loads((folder / "export_verification.json").read_text())
    # float32 LiteRT makes TensorFlow's next-token choice at every step.
    fp32 = check["recipes"]["fp32"]
    assert fp32["of"] == 16 and fp32["agreeing"] == 16
    assert result["verification"]["fp32"] == fp32


def test_litert_text_equals_tensorflow_text(bundle, capsys):
    gguf, folder, _ = bundle
    args = ["--prompt", "hello world", "--max-new-tokens", "6", "--json"]
    tf_texts = generate_cli.main(["--model", str(gguf)] + args)
    capsys.readouterr()
    litert_texts = generate_cli.main(
        ["--model", str(folder), "--engine", "litert", "--threads", "1"]
        + args)
    printed = json.loads(capsys.readouterr().out.strip())
    assert litert_texts == tf_texts
    assert printed == {"prompt": "hello world", "completion": tf_texts[0]}


def test_streaming_prints_the_pieces_once(bundle, capsys):
    _, folder, _ = bundle
    texts = generate_cli.main(["--model", str(folder), "--stream",
                               "--max-new-tokens", "5", "--no-chat",
                               "hello"])
    out = capsys.readouterr().out
    assert out == texts[0] + "\n"


def test_python_generate_on_a_bundle_and_refusals(bundle):
    import tfllm
    from tfllm.data.errors import UserInputError
    from tfllm.inference.litert_lm import CacheFullError

    gguf, folder, _ = bundle
    assert tfllm.generate(str(folder), "hello", max_new_tokens=4) == \
        tfllm.generate(str(gguf), "hello", max_new_tokens=4)
    with pytest.raises(UserInputError, match="beam"):
        tfllm.generate(str(folder), "hello", strategy="beam")
    with pytest.raises(CacheFullError, match="96 cache slots"):
        tfllm.generate(str(folder), "hello", max_new_tokens=90)
    with pytest.raises(UserInputError, match="not a LiteRT bundle"):
        generate_cli.main(["--model", str(gguf), "--engine", "litert",
                           "hello"])
    with pytest.raises(UserInputError, match="is a LiteRT bundle"):
        generate_cli.main(["--model", str(folder), "--engine", "tf",
                           "hello"])
    with pytest.raises(UserInputError, match="quantized when it is"):
        generate_cli.main(["--model", str(folder), "--quantize", "int8",
                           "hello"])
    with pytest.raises(UserInputError, match="no 'dynamic_int8' model"):
        generate_cli.main(["--model", str(folder), "--recipe",
                           "dynamic_int8", "hello"])


def test_export_refuses_a_cache_shorter_than_a_bucket_before_loading():
    from tfllm.data.errors import UserInputError

    with pytest.raises(UserInputError, match="largest prefill bucket"):
        export_cli.main(["--task", "causal-lm", "--model", "no-such.gguf",
                         "--max-length", "64"])
