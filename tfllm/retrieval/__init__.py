"""Sentence embeddings, vector search and contrastive encoder training.

- `tfllm.retrieval.contrastive`: `SentenceEncoder`, a KerasHub encoder with
  mean pooling and L2 normalisation, trained with the multiple-negatives
  ranking loss (in-batch negatives).
- `tfllm.retrieval.embedding`: batched embeddings of raw texts, the
  vocabulary fingerprint that ties an index to its encoder.
- `tfllm.retrieval.index`: `VectorIndex`, exact or faiss inner-product
  search with atomic save/load that refuses a stale index.
- `tfllm.retrieval.faq_files`: FAQ files (question/answer, or
  utterance/intent plus an answer-template file).
- `tfllm.retrieval.decisions`: per-intent scores, the fallback threshold
  and the classifier + retrieval combination.
"""
