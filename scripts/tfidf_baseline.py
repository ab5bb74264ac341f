"""Character n-gram TF-IDF + logistic regression on known datasets' splits.

Usage: python scripts/tfidf_baseline.py [--datasets chnsenticorp,...] \
           [--c-values 16,64] [--output tfidf_baseline.json] [--help]
"""

from tfllm.cli.args import run_cli
from tfllm.cli.tfidf_baseline import main

if __name__ == "__main__":
    run_cli(main)
