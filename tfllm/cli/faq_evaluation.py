"""Moved to `tfllm.apps.faq_evaluation` (re-exported here for one
release)."""

from tfllm.apps.faq_evaluation import *  # noqa: F401,F403
from tfllm.apps.faq_evaluation import run_evaluation  # noqa: F401
