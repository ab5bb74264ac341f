"""Recommendation: readers, leave-last-out splits, full-catalogue metrics,
two-tower retrieval with a language-model item tower, re-ranking, serving."""
