"""Ensemble runs: k members trained with k seeds or on k folds, scored and
exported as one model (`--ensemble-seeds K` / `--ensemble-folds K` of
`tfllm train ner` and `tfllm train classifier`).

Member i (1-based) trains in `<run folder>/member<i>/` (its own
`model.keras`, metrics, best epoch and validation reports; a finished
member is not trained again when the run is resumed) with seed
`seed + i - 1`; with folds it also leaves out the i-th of k folds of the
training split (stratified for classification), so members see different
data ("cross-validation committees"). All members pick their best epoch on
the same validation split. The run folder then holds the ensemble's
validation (and test) reports and `summary.json` with the ensemble's and
each member's score, and one SavedModel averaging the members is exported
(`tfllm.models.ensemble`). Training and inference each cost k times one
model's.

References:
    Parmanto, Munro, Doyle (1996), "Reducing Variance of Committee
    Prediction with Resampling Techniques" (committees trained on folds).
"""

import dataclasses
import datetime
import json
import pathlib

import numpy as np


def member_plans(seed, ensemble_seeds=0, ensemble_folds=0, labels=None,
                 num_examples=None):
    """The members' seeds and training rows.

    Args:
        seed: int. The run's seed; member i gets `seed + i - 1`.
        ensemble_seeds: int. k > 1: k members on all training rows.
        ensemble_folds: int. k > 1: member i leaves out fold i.
        labels: list or None. Classification labels: folds are stratified
            (`tfllm.data.splits.stratified_folds`).
        num_examples: int or None. Without labels: the training rows,
            split into k seeded random folds.

    Returns:
        list of `(seed, train_index)`; `train_index` is None for all rows,
        else a sorted list of int.

    Raises:
        ValueError: both or neither of `ensemble_seeds` and
            `ensemble_folds` above 1, or more folds than examples.
    """
    if (ensemble_seeds > 1) == (ensemble_folds > 1):
        raise ValueError("give one of --ensemble-seeds K or "
                         "--ensemble-folds K (K > 1)")
    if ensemble_seeds > 1:
        return [(seed + i, None) for i in range(ensemble_seeds)]
    if labels is not None:
        from tfllm.data.splits import stratified_folds

        folds = stratified_folds(labels, ensemble_folds, seed)
        return [(seed + i, sorted(int(j) for j in train))
                for i, (train, _) in enumerate(folds)]
    if num_examples < ensemble_folds:
        raise ValueError(f"--ensemble-folds {ensemble_folds}: only "
                         f"{num_examples} training examples")
    order = np.random.default_rng(seed).permutation(num_examples)
    held = np.array_split(order, ensemble_folds)
    return [(seed + i, sorted(int(j) for j in set(order) - set(fold)))
            for i, fold in enumerate(held)]


def _rows(examples, index):
    return list(examples) if index is None else [examples[i] for i in index]


def _summary(run_dir, key, final, member_scores, k, start, extra):
    from tfllm.runs.summary import write_run_summary

    class _NoEpochs:  # the members' epochs are in their own folders
        num_tokens = None

    scores = {key: final, f"member_{key}": member_scores,
              "ensemble_members": k}
    return write_run_summary(run_dir, scores, [], _NoEpochs(), start, extra)


def run_ner_ensemble(config, training, peft, strategy, start):
    """`tfllm train ner --ensemble-seeds K | --ensemble-folds K`.

    Args:
        config: `tfllm.runs.ner.NerConfig`.
        training: `TrainingConfig`.
        peft: `PeftArgs`.
        strategy: the `tf.distribute` strategy members train under.
        start: float. `time.perf_counter()` at the command's start.

    Returns:
        `pathlib.Path` of the run folder.
    """
    from tfllm.data.char_spans import ConversionReport
    from tfllm.data.conll import encode_tags
    from tfllm.data.ner_datasets import get_ner_dataset
    from tfllm.data.ner_datasets import ner_label_list
    from tfllm.models.ensemble import TokenClassifierEnsemble
    from tfllm.models.token_classifier import TokenClassifier
    from tfllm.peft.options import apply_from_args
    from tfllm.runs import ner

    data = ner.load_splits(config, ConversionReport())
    id2label = ner_label_list(config.dataset, data["train"])
    for split in ("validation", "test"):
        if split in data:
            encode_tags(data[split], id2label)
    plans = member_plans(training.seed, config.ensemble_seeds,
                         config.ensemble_folds,
                         num_examples=len(data["train"]))
    run_dir = pathlib.Path(config.output_dir) / (
        config.run_name or datetime.datetime.now().strftime(
            "ner-ensemble-%Y%m%d-%H%M%S"))
    run_dir.mkdir(parents=True, exist_ok=True)
    ner.write_config(run_dir, config, training, peft)
    (run_dir / "labels.json").write_text(json.dumps(id2label) + "\n")
    validation = data["validation"]
    members, member_f1 = [], []
    for number, (seed, index) in enumerate(plans, 1):
        member_dir = run_dir / f"member{number}"
        train = _rows(data["train"], index)
        print(f"member {number}/{len(plans)}: seed {seed}, {len(train)} "
              "training sentences")
        with strategy.scope():
            model = TokenClassifier.from_pretrained(
                config.backbone, id2label, head=config.head,
                max_length=config.max_length,
                window_overlap=config.window_overlap,
                casing_features=config.casing_features,
                dropout=config.dropout,
                lexicon_features=config.lexicon_features,
                word_splitter=get_ner_dataset(config.dataset).word_splitter,
                seed=seed)
            apply_from_args(model, peft)
            model.fit(train, validation_data=validation, run_dir=member_dir,
                      training_config=dataclasses.replace(training,
                                                          seed=seed),
                      label_all_tokens=config.label_all_tokens,
                      augment=config.augment,
                      augment_copies=config.augment_copies,
                      augment_prob=config.augment_prob)
        member_f1.append(ner.report_split(
            model, validation, "validation", member_dir)["f1"])
        members.append(model)
    ensemble = TokenClassifierEnsemble(members)
    final = ner.report_split(ensemble, validation, "validation", run_dir)
    extra = {"dataset": config.dataset, "head": config.head,
             "member_seeds": [seed for seed, _ in plans],
             "ensemble_folds": config.ensemble_folds or None}
    if "test" in data:
        extra["test_entity_f1_strict"] = ner.report_split(
            ensemble, data["test"], "test", run_dir)["f1"]
    if config.export:
        path = ensemble.export(config.export_dir)
        print(f"exported the ensemble's serving SavedModel to {path}")
    scores = ", ".join(f"{f:.4f}" for f in member_f1)
    print(f"ensemble of {len(members)}: validation entity F1 "
          f"{final['f1']:.4f} (members {scores})")
    _summary(run_dir, "validation_entity_f1_strict", final["f1"], member_f1,
             len(members), start, extra)
    print(f"run folder: {run_dir}")
    return run_dir


def run_classifier_ensemble(config, training, peft_args, id2label, data,
                            run_dir, start):
    """`tfllm train classifier --ensemble-seeds K | --ensemble-folds K`,
    after `tfllm.runs.classification.run` has read and split the data.

    Args:
        config: `ClassifierConfig`.
        training: `TrainingConfig`.
        peft_args: `PeftArgs`.
        id2label: list of str.
        data: dict split -> list of `TextExample` (train, validation,
            maybe test).
        run_dir: `pathlib.Path` of the run folder.
        start: float. `time.perf_counter()` at the command's start.

    Returns:
        `run_dir`.
    """
    from tfllm.models.ensemble import TextClassifierEnsemble
    from tfllm.runs import classification

    plans = member_plans(
        training.seed, config.ensemble_seeds, config.ensemble_folds,
        labels=[e.label for e in data["train"]])
    members, member_scores = [], []
    key = "micro_f1" if config.multi_label else "accuracy"
    for number, (seed, index) in enumerate(plans, 1):
        member_dir = pathlib.Path(run_dir) / f"member{number}"
        train = _rows(data["train"], index)
        print(f"member {number}/{len(plans)}: seed {seed}, {len(train)} "
              "training examples")
        model, _ = classification.fit_classifier(
            config, dataclasses.replace(training, seed=seed), id2label,
            train, data["validation"], member_dir, peft_args)
        member_scores.append(classification.report_split(
            model, data["validation"], "validation", member_dir)[key])
        members.append(model)
    ensemble = TextClassifierEnsemble(members)
    final = classification.report_split(ensemble, data["validation"],
                                        "validation", run_dir)
    if "test" in data:
        classification.report_split(ensemble, data["test"], "test", run_dir)
    if config.export:
        name = config.dataset or "classifier"
        path = ensemble.export(config.export_dir or f"saved_models/{name}")
        print(f"exported the ensemble's serving SavedModel to {path}")
    print(f"ensemble of {len(members)}: validation {key} {final[key]:.4f} "
          f"(members {', '.join(f'{s:.4f}' for s in member_scores)})")
    _summary(run_dir, f"validation_{key}", final[key], member_scores,
             len(members), start,
             {"member_seeds": [seed for seed, _ in plans],
              "ensemble_folds": config.ensemble_folds or None,
              **{f"validation_{k}": final[k] for k in classification.SCALARS
                 if k in final}})
    print(f"run folder: {run_dir}")
    return run_dir
