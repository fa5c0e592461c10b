"""``create_app(settings)``: builds one registry server. Each call has its own engine, keys and state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.routing import Route

from dpm_server import logs
from dpm_server.auth import users
from dpm_server.auth.passwords import CHECKS_AT_ONCE
from dpm_server.auth.principals import PrincipalCache
from dpm_server.auth.sessions import TokenPolicy
from dpm_server.auth.tokens import TokenCodec, generate_signing_key
from dpm_server.context import AppContext
from dpm_server.db import migrate
from dpm_server.db.engine import Database, make_engine, report_errors
from dpm_server.extras import DISTRIBUTION, optional_module
from dpm_server.http import handlers
from dpm_server.http.edge import BODY_CHECKS_AT_ONCE, BodyLimits, Edge
from dpm_server.http.measure import Measure
from dpm_server.http.ratelimit import MemoryRateLimiter, RateLimiter, parse_networks
from dpm_server.http.retry import RetryTransactions
from dpm_server.keyfiles import load_or_create_key
from dpm_server.metrics import Metrics
from dpm_server.openapi import build_openapi
from dpm_server.routers import audit, auth, bulk, models, operations, providers, registry, templates
from dpm_server.secretbox import SecretBox
from dpm_server.services.connectivity import ConnectivityPool
from dpm_server.services.operations import Readiness
from dpm_server.services.registry import Registry
from dpm_server.services.templates import seed_system_templates
from dpm_server.settings import Settings
from dpm_server.workers import BackgroundPool

if TYPE_CHECKING:
    from dpm_server.http.redis_limits import RedisConnection

EMBEDDED_ADMIN = "dpm-embedded"
DESCRIPTION = """The Dynamic Provider Management API, as served by dpm.

Every /api/admin route needs an admin JWT (`Authorization: Bearer <token>` from `POST /api/auth/login`).
Errors use one envelope: `{"error": {code, message, field?, suggestions?, validationErrors?, details?},
"timestamp", "requestId"}`."""


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0.0.0"


def _context(settings: Settings) -> AppContext:
    db = Database(make_engine(settings.resolved_database_url))
    metrics = Metrics() if settings.metrics else None
    if metrics is not None:
        report_errors(db.engine, metrics.database_error)
    migrate.upgrade(db.engine)
    box = SecretBox(load_or_create_key(settings.secret_key, settings.data_dir / "secret.key", SecretBox.generate_key))
    codec = TokenCodec(load_or_create_key(settings.jwt_secret, settings.data_dir / "jwt.key", generate_signing_key))
    with db.write() as session:
        seed_system_templates(session, box=box)
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        users.ensure_first_admin(
            session, username=settings.admin_username, password=password, email=settings.admin_email
        )
    policy = TokenPolicy(codec, settings.access_token_ttl, settings.refresh_token_ttl)
    return AppContext(
        settings,
        db,
        box,
        policy,
        Registry(),
        PrincipalCache(db),
        ConnectivityPool.from_settings(settings),
        password_checks=BackgroundPool("dpm-password", CHECKS_AT_ONCE),
        body_checks=BackgroundPool("dpm-body-check", BODY_CHECKS_AT_ONCE),
        readiness=Readiness(db),
        metrics=metrics,
    )


def _limiters(settings: Settings) -> tuple[RateLimiter, RateLimiter, RedisConnection | None]:
    """In-process counters, or, with a Redis rate-limit storage, one budget shared by every replica."""
    if settings.rate_limit_storage is None:
        return MemoryRateLimiter(settings.rate_limit), MemoryRateLimiter(settings.login_rate_limit), None
    redis_limits = optional_module("dpm_server.http.redis_limits", "redis", "DPM_SERVER_RATE_LIMIT_STORAGE=redis://…")
    redis = redis_limits.RedisConnection(settings.rate_limit_storage)
    return (
        redis_limits.RedisRateLimiter(settings.rate_limit, redis, "requests"),
        redis_limits.RedisRateLimiter(settings.login_rate_limit, redis, "logins"),
        redis,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The registry app: migrates the database, seeds the system templates and the first admin, wires routes."""
    settings = settings or Settings.from_env()
    logs.configure(settings.debug, settings.log_format)
    context = _context(settings)
    limiter, login_limiter, redis = _limiters(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        context.close()
        if redis is not None:
            await redis.aclose()

    app = FastAPI(
        title="Dynamic Provider Management API",
        version=_version(),
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        separate_input_output_schemas=False,
        lifespan=lifespan,
    )
    app.state.context = context
    handlers.install(app)
    # Fixed-path routes first, so that /providers/export is never read as /providers/{id}.
    routers = [m.router for m in (operations, auth, bulk, registry, audit, providers, models, templates)]
    if context.metrics is not None:
        routers.append(operations.metrics_router)
    for router in routers:
        app.include_router(router)
    app.add_middleware(RetryTransactions)  # inside the edge: a retried request has one id and counts once
    app.add_middleware(
        Edge,
        limiter=limiter,
        login_limiter=login_limiter,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        body_checks=context.body_checks,
        limits=BodyLimits(
            settings.max_body_bytes, settings.max_auth_body_bytes, settings.max_json_depth, settings.max_json_keys
        ),
    )
    if context.metrics is not None:  # outermost: the edge's own answers are measured too
        routes = [route for route in app.routes if isinstance(route, Route)]  # the docs, outside the routers
        routes += [route for router in routers for route in router.routes]
        app.add_middleware(Measure, metrics=context.metrics, routes=routes)
    app.openapi = partial(build_openapi, app)  # type: ignore[method-assign]
    return app


def embedded_admin_token(app: FastAPI) -> str:
    """An admin access token for an in-process caller (the embedded registry): no password, no login request."""
    context: AppContext = app.state.context
    with context.db.write() as session:
        user = users.ensure_service_admin(session, username=EMBEDDED_ADMIN)
        user_id = user.id
    return context.tokens.codec.mint(user_id, "access", context.settings.access_token_ttl).token
