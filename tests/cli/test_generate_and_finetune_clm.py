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


def _write_pairs(folder):
    data = folder / "pairs.jsonl"
    data.write_text("".join(
        json.dumps({"prompt": p, "response": r}) + "\n"
        for p, r in [("hello", "world"), ("world", "hello"),
                     ("hello world", "hello"), ("world hello", "world")]))
    return data


def test_finetune_then_generate_from_the_run(tiny_gguf, tmp_path, capsys):
    data = _write_pairs(tmp_path)
    run_dir = finetune_clm.main([
        "--backbone", str(tiny_gguf), "--train-file", str(data),
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
        "--model", str(tiny_gguf), "--input", str(prompts),
        "--no-chat", "--max-new-tokens", "2", "--strategy", "beam",
        "--num-beams", "2"])
    assert len(texts) == 2


def test_generate_with_int8_weights(tiny_gguf, monkeypatch):
    import keras

    from tfllm.data.errors import UserInputError
    from tfllm.generation import GenerationConfig
    from tfllm.generation import text as text_module

    loaded = []
    real_load = text_module.load_generator

    def recording_load(*args, **kwargs):
        loaded.append(real_load(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(text_module, "load_generator", recording_load)
    args = ["--model", str(tiny_gguf), "--prompt", "hello", "--no-chat",
            "--max-new-tokens", "4"]
    int8 = generate_cli.main(args + ["--quantize", "int8"])
    lm, preprocessor = loaded[0]
    query = lm.backbone.transformer_layers[0]._self_attention_layer \
        ._query_dense
    assert query.quantization_mode == "int8"
    assert keras.backend.standardize_dtype(query._kernel.dtype) == "int8"
    texts, _ = text_module.generate_text(
        lm, preprocessor, ["hello"], GenerationConfig(max_new_tokens=4), 1)
    assert int8 == texts
    with pytest.raises(UserInputError, match="expected 'int8'"):
        generate_cli.main(args + ["--quantize", "int4"])


def test_finetune_bad_line_is_reported_with_file_and_line(tmp_path):
    from tfllm.data.errors import DataFormatError

    data = tmp_path / "pairs.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "a"}\n')
    with pytest.raises(DataFormatError, match="pairs.jsonl:2: no key"):
        finetune_clm.main(["--train-file", str(data),
                           "--output-dir", str(tmp_path)])


def test_finetune_with_lora_trains_only_the_adapter(tiny_gguf, tmp_path):
    import keras
    import numpy as np

    from tfllm.backbones import load_backbone
    from tfllm.models.sft_causal_lm import SFTCausalLM
    from tfllm.peft.saving import load_adapter

    data = _write_pairs(tmp_path)
    run_dir = finetune_clm.main([
        "--backbone", str(tiny_gguf), "--train-file", str(data),
        "--validation-fraction", "0.25", "--sequence-length", "32",
        "--epochs", "2", "--batch-size", "2", "--learning-rate", "1e-2",
        "--checkpoint-every-steps", "0", "--num-samples", "0",
        "--peft", "lora", "--peft-config", "r=2,lora_alpha=4",
        "--output-dir", str(tmp_path), "--run-name", "sft-lora"])
    summary = json.loads((run_dir / "peft_summary.json").read_text())
    assert summary["peft"]["r"] == 2
    assert 0 < summary["trainable_percent"] < 50
    assert summary["adapter_bytes"] > 0

    trained = keras.models.load_model(run_dir / "model.keras",
                                      compile=False)
    backbone, _ = load_backbone(str(tiny_gguf))
    frozen = [v for v in trained.backbone.weights
              if "lora" not in v.path.lower()]
    assert len(frozen) == len(backbone.weights)
    for v, base in zip(frozen, backbone.weights):
        np.testing.assert_array_equal(v.numpy(), base.numpy(), v.path)
    # lora_B starts at zero (Hu et al. 2021): non-zero means it trained.
    lora_b = [v for v in trained.backbone.weights
              if "lora_b" in v.path.lower()]
    assert lora_b and all(np.abs(v.numpy()).max() > 0 for v in lora_b)

    # The adapter alone, on a fresh copy of the base, gives the same logits.
    fresh = load_adapter(SFTCausalLM(backbone, trained.preprocessor),
                         run_dir / "adapter", verbose=False)
    x = {"token_ids": np.array([[1, 5, 7, 9, 2, 0]], "int32"),
         "padding_mask": np.array([[1, 1, 1, 1, 1, 0]], "int32")}
    np.testing.assert_allclose(fresh(x), trained(x), atol=1e-5)
