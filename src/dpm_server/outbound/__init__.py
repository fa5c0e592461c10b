"""Outbound HTTP from the server (connectivity tests), behind an SSRF guard.

``guard`` decides whether a URL may be called and which address to connect to; ``client`` makes the call, pinned
to that address, with no redirects, a total time limit and a response size limit. This package imports nothing
from the rest of the server except the settings, so the settings may validate the allow-list with ``guard``.
"""
