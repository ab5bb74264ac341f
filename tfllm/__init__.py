"""tfllm: fine-tune, evaluate and deploy transformer language models with
TensorFlow and Keras.

    import tfllm
    model = tfllm.TokenClassifier.from_pretrained("minilm", labels=labels)
    model.fit(train_sentences, validation_data=validation_sentences)

The public names below are imported on first use (PEP 562), so
`import tfllm` is fast and loads TensorFlow only when a model or training
function is touched.
"""

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute"
_PUBLIC = {
    "TokenClassifier": "tfllm.models.token_classifier:TokenClassifier",
    "TextClassifier": "tfllm.models.text_classifier:TextClassifier",
    "TrainingConfig": "tfllm.training.trainer:TrainingConfig",
    "load_config": "tfllm.config:load_config",
    "save_config": "tfllm.config:save_config",
    "set_verbosity": "tfllm.utils.logging:set_verbosity",
    "quiet_native_logs": "tfllm.utils.logging:quiet_native_logs",
    "load_classification_dataset":
        "tfllm.runs.classification:load_classification_dataset",
    "load_ner_dataset": "tfllm.runs.ner:load_ner_dataset",
    "MaskedLM": "tfllm.models.masked_lm:MaskedLM",
    "CausalLM": "tfllm.models.sft_causal_lm:SFTCausalLM",
    "generate": "tfllm.generation.text:generate_texts",
    "Recommender": "tfllm.apps.recommender:Recommender",
    "load_recommendation_dataset":
        "tfllm.recommendation.readers:load_recommendation_dataset",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'tfllm' has no attribute {name!r}")
    module, attribute = target.split(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return __all__
