"""The server's Prometheus metrics (``GET /metrics``, on with ``DPM_SERVER_METRICS=true``): the one module that
imports ``prometheus_client``.

Each app has a registry of its own, never the library's global one, so that two apps in one process (tests, the
embedded registry beside a served one) count apart and never collide on a metric name.

Every label value comes from a small closed set that the server chooses: a route template (never the path a client
sent), a status code, a method from the standard list, the name of a limit, an outcome, an exception's class.
Nothing a client or an admin writes (an identifier, a user name, a token, a secret) can become a label, so the number
of series stays bounded and a scrape reveals no data.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request that no route matches
LIMITS = ("requests", "logins", "connectivity")
TARGETS = ("provider", "model")
OUTCOMES = ("success", "failure")


class Metrics:
    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "dpm_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "dpm_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._refusals = Counter(
            "dpm_rate_limit_refusals",
            "Requests refused with 429, by limit: requests, logins, or connectivity (the connectivity test pool).",
            ("limit",),
            registry=self.registry,
        )
        self._tests = Counter(
            "dpm_connectivity_tests",
            "Connectivity tests run, by target (provider or model) and outcome (success or failure).",
            ("target", "outcome"),
            registry=self.registry,
        )
        self._db_errors = Counter(
            "dpm_database_errors",
            "Errors raised by the database driver, by SQLAlchemy exception class.",
            ("error",),
            registry=self.registry,
        )
        self._revision = Gauge(
            "dpm_registry_revision",
            "The registry revision last read from the database; grows with every committed change.",
            registry=self.registry,
        )
        # Known label sets start at zero, so that a family is there (and a rate can be taken) before its first event.
        for limit in LIMITS:
            self._refusals.labels(limit)
        for target in TARGETS:
            for outcome in OUTCOMES:
                self._tests.labels(target, outcome)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method if method in METHODS else "other", route, str(status))
        self._requests.labels(*labels).inc()
        self._latency.labels(*labels).observe(seconds)

    def refused(self, limit: str) -> None:
        self._refusals.labels(limit).inc()

    def tested(self, target: str, success: bool) -> None:
        self._tests.labels(target, OUTCOMES[0] if success else OUTCOMES[1]).inc()

    def database_error(self, error: str) -> None:
        self._db_errors.labels(error).inc()

    def render(self, revision: int | None) -> bytes:
        """The exposition text; ``revision`` (None when the database could not say) updates the gauge first."""
        if revision is not None:
            self._revision.set(revision)
        return generate_latest(self.registry)
