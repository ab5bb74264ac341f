"""`tfllm faq evaluate`: retrieval, classifier and mix on held-out queries.

Scores on the validation queries (`load_faq`):

- top-1 intent accuracy of retrieval with each aggregation (`max`: the
  nearest entry's intent; `vote`: a kNN vote over `--k` neighbours), on
  all queries (nothing is fitted);
- with `--classifier`: the classifier's accuracy on all queries, then the
  mix. The queries are split in two stratified halves (seed 42): the
  aggregation, the mix weight and the hand-over thresholds are fitted on
  the `fit` half and every figure of the `report` half is reported, so the
  fitted figures are not scored on the data they were fitted on;
- the hand-over rule (`tfllm.retrieval.decisions.fit_threshold`):
  precision/recall of flagging wrong answers at the threshold fitted on
  the fit half, for retrieval alone (the aggregation and the confidence,
  best score or top intent probability, are chosen on the fit half by
  that F1) and for the mix.
"""

import json
import pathlib
import time

import numpy as np

from tfllm.data.splits import stratified_split
from tfllm.retrieval.decisions import AGGREGATIONS
from tfllm.retrieval.decisions import combine
from tfllm.retrieval.decisions import fallback_report
from tfllm.retrieval.decisions import fit_threshold
from tfllm.retrieval.decisions import fit_weight
from tfllm.retrieval.decisions import intent_probabilities
from tfllm.utils.atomic import atomic_path
from tfllm.utils.machine import machine_description


def _accuracy(probabilities, gold, rows=None):
    rows = np.arange(len(gold)) if rows is None else rows
    return float(np.mean(probabilities[rows].argmax(1) == gold[rows]))


def run_evaluation(data, encoder_args, args):
    """Runs the evaluation; writes `args.report` (and `args.output`).

    Returns:
        dict: the report.
    """
    from tfllm.apps.customer_service import ClassifierProbabilities
    from tfllm.apps.customer_service import FaqAssistant
    from tfllm.apps.customer_service import build_index
    from tfllm.apps.faq import load_faq
    from tfllm.retrieval.embedding import embed_texts
    from tfllm.retrieval.embedding import load_sentence_encoder

    start = time.perf_counter()
    entries, queries = load_faq(data)
    texts = [q for q, _ in queries]
    encoder = load_sentence_encoder(encoder_args.backbone,
                                    encoder_args.max_length)
    tick = time.perf_counter()
    index = build_index(encoder, entries, encoder_args.backbone)
    index_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    query_vectors = embed_texts(encoder, texts)
    query_seconds = time.perf_counter() - tick
    scores, ids = index.search(query_vectors, max(args.k, 1))
    assistant = FaqAssistant(encoder, index, k=max(args.k, 1))
    position = {name: i for i, name in enumerate(assistant.intents)}
    unknown = sorted({g for _, g in queries if g not in position})
    if unknown:
        raise SystemExit(f"validation intents not in the FAQ: {unknown}")
    gold = np.array([position[g] for _, g in queries])
    fit, held = stratified_split(list(gold), 0.5, data.split_seed)
    retrieval = {method: intent_probabilities(
        scores, ids, assistant.entry_intents, len(assistant.intents), method)
        for method in AGGREGATIONS}
    report = {
        "encoder": encoder_args.backbone,
        "faq_entries": len(entries), "queries": len(queries),
        "fit_queries": len(fit), "report_queries": len(held),
        "index_backend": index.backend,
        "embed_seconds": {"faq": index_seconds, "queries": query_seconds},
        "retrieval_top1_accuracy": {
            m: _accuracy(p, gold) for m, p in retrieval.items()},
        "k": args.k,
    }
    # The hand-over rule of retrieval alone: for each aggregation and each
    # confidence (best score, top intent probability) a threshold is fitted
    # on the fit half; the pair whose rule flags wrong answers best there
    # (F1) is kept and reported on the other half.
    fallbacks = {}
    for method, probabilities in retrieval.items():
        correct = probabilities.argmax(1) == gold
        for kind, values in (("score", scores[:, 0].astype(np.float64)),
                             ("probability", probabilities.max(1))):
            threshold = fit_threshold(values[fit], correct[fit])
            fallbacks[f"{method}/{kind}"] = {
                "fit": fallback_report(values[fit], correct[fit],
                                       threshold),
                "report": fallback_report(values[held], correct[held],
                                          threshold)}
    best = max(fallbacks, key=lambda c: fallbacks[c]["fit"]["f1"])
    aggregation, kind = best.split("/")
    threshold = fallbacks[best]["report"]["threshold"]
    p_retrieval = retrieval[aggregation]
    report["aggregation"] = aggregation
    report["retrieval_report_half_accuracy"] = _accuracy(p_retrieval, gold,
                                                         held)
    report["retrieval_confidence"] = kind
    report["retrieval_fallback"] = fallbacks[best]["report"]
    report["retrieval_fallback_by_rule"] = fallbacks
    assistant.threshold = threshold
    assistant.aggregation = aggregation
    assistant.confidence = kind
    assistant.extra_settings = {"retrieval_threshold": threshold,
                                "retrieval_confidence": kind}
    if args.classifier:
        classifier = ClassifierProbabilities(args.classifier)
        assistant.classifier = classifier
        p_classifier = assistant.classifier_probabilities(texts)
        weight, fit_accuracy = fit_weight(p_classifier[fit],
                                          p_retrieval[fit], gold[fit])
        mixed = combine(p_classifier, p_retrieval, weight)
        agree = p_classifier.argmax(1) == p_retrieval.argmax(1)
        mixed_correct = mixed.argmax(1) == gold
        mixed_threshold = fit_threshold(mixed.max(1)[fit],
                                        mixed_correct[fit])
        report.update({
            "classifier": args.classifier,
            "classifier_top1_accuracy": _accuracy(p_classifier, gold),
            "classifier_report_half_accuracy": _accuracy(p_classifier, gold,
                                                         held),
            "classifier_weight": weight,
            "combined_fit_half_accuracy": fit_accuracy,
            "combined_report_half_accuracy": _accuracy(mixed, gold, held),
            "agreement_rate_report_half": float(agree[held].mean()),
            "accuracy_when_agreeing_report_half": float(
                mixed_correct[held][agree[held]].mean()),
            "combined_fallback": fallback_report(
                mixed.max(1)[held], mixed_correct[held], mixed_threshold),
            "combined_fallback_fit_half": fallback_report(
                mixed.max(1)[fit], mixed_correct[fit], mixed_threshold),
        })
        assistant.classifier_weight = weight
        assistant.threshold = mixed_threshold
    report.update(wall_seconds=time.perf_counter() - start,
                  machine=machine_description(),
                  date=time.strftime("%Y-%m-%d"))
    path = pathlib.Path(args.report)
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(report, indent=2) + "\n")
    with atomic_path(path.with_suffix(".queries.txt")) as temp:
        temp.write_text("\n".join(t.replace("\n", " ") for t in texts)
                        + "\n")
    if args.output:
        assistant.save(args.output)
        print(f"assistant folder: {args.output}")
    print(json.dumps({k: v for k, v in report.items()
                      if k not in ("machine",)}, indent=2))
    return report
