"""Talking to a registry: the one HTTP client (auth, retries, rate limits) and the targets it can talk to (a URL, or
the embedded registry run in-process)."""
