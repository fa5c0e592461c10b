"""dpm: GitOps for LLM provider registries."""

__version__ = "0.1.0"
