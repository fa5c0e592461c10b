"""RetryTransactions runs a request again when the database rolled its transaction back, with the same body."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from dpm_server.db.engine import RetryableTransaction
from dpm_server.http.retry import RetryTransactions


def _app(failures: int, calls: list[bytes], *, attempts: int = 4) -> Starlette:
    async def endpoint(request: Request) -> Response:
        calls.append(await request.body())
        if len(calls) <= failures:
            raise RetryableTransaction("40P01")
        return JSONResponse({"calls": len(calls)})

    app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])
    app.add_middleware(RetryTransactions, attempts=attempts, jitter=lambda low, high: 0.0)
    return app


def test_a_rolled_back_transaction_runs_again_with_the_same_body() -> None:
    calls: list[bytes] = []
    with TestClient(_app(2, calls)) as client:
        response = client.post("/", content=b'{"name": "x"}', headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    assert response.json() == {"calls": 3}
    assert calls == [b'{"name": "x"}'] * 3


def test_when_the_attempts_run_out_the_client_gets_a_409_not_a_500() -> None:
    calls: list[bytes] = []
    with TestClient(_app(10, calls, attempts=3)) as client:
        response = client.post("/", json={})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    assert len(calls) == 3


def test_nothing_is_retried_once_the_response_has_started() -> None:
    calls: list[int] = []

    async def chunks() -> object:
        yield b"partial"
        calls.append(1)
        raise RetryableTransaction("40001")

    async def endpoint(_request: Request) -> Response:
        return StreamingResponse(chunks())  # type: ignore[arg-type]

    app = Starlette(routes=[Route("/", endpoint)])
    app.add_middleware(RetryTransactions, jitter=lambda low, high: 0.0)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/")

    assert calls == [1]
    assert response.status_code == 200
