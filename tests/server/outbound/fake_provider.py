"""A fake LLM provider: a real HTTP server on a loopback port that speaks the OpenAI and the Anthropic style.

- ``GET /v1/models``: the model list (``Authorization: Bearer <key>`` or ``x-api-key: <key>`` with
  ``anthropic-version``).
- ``POST /v1/chat/completions``: a chat completion (Bearer only); ``POST /v1/messages``: a message (x-api-key and
  anthropic-version only). Both insist on ``max_tokens: 1``.
- ``GET /health``: plain ``ok``, for ``authConfig.testEndpoint``.

``mode`` makes it misbehave: ``slow`` (waits ``delay`` seconds before answering), ``drip`` (sends its body a
byte every ``drip_pause`` seconds, 0.05 unless set, forever), ``not-json``, ``wrong-shape``, ``status`` (answers
``status``), ``redirect`` (to the metadata address), ``huge`` (a body twice the size cap, with a Content-Length),
``huge-chunked`` (the same, without one), ``gzip``. ``models`` is the model list it serves (``MODELS`` unless set),
so that a test can retire a model upstream; a chat or message request for a model in ``missing`` answers 404, as a
provider does for a model it does not serve. ``api_key`` is the key it accepts (a wrong one gets 401). Every non-2xx
and every wrong body carries ``CANARY``, which must never come back to a client. The server stops itself when the
fixture ends; waiting handlers are released on ``reset`` and ``stop``.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-your-api-key-here"
CANARY = "UPSTREAM-BODY-CANARY-5e1f"
MODELS = ["fake-gpt-4", "fake-claude"]
HUGE = 2 * 1024 * 1024 + 1


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeProvider:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.api_key = API_KEY
        self.mode = "ok"
        self.delay = 0.0
        self.drip_pause = 0.05
        self.status = 500
        self.models = list(MODELS)
        self.missing: set[str] = set()
        self.seen: list[Seen] = []
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        if tls is not None:  # the handshake happens on accept; a failed one drops the connection
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self._release.set()
        self._release = threading.Event()
        self.api_key, self.mode, self.delay, self.drip_pause, self.status = API_KEY, "ok", 0.0, 0.05, 500
        self.models = list(MODELS)
        self.missing = set()
        self.seen.clear()

    def wait(self, seconds: float) -> bool:
        """Sleeps up to ``seconds``; True when released early (the test is over)."""
        return self._release.wait(seconds)

    @classmethod
    @contextmanager
    def running(cls, tls: ssl.SSLContext | None = None) -> Iterator[FakeProvider]:
        fake = cls(tls)
        fake._thread.start()
        try:
            yield fake
        finally:
            fake._release.set()
            fake._server.shutdown()
            fake._server.server_close()
            fake._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeProvider/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    @property
    def fake(self) -> FakeProvider:
        fake: FakeProvider = self.server.fake  # type: ignore[attr-defined]
        return fake

    def _answer(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        fake.seen.append(Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        mode = fake.mode
        if mode == "slow" and fake.wait(fake.delay):
            return
        if mode == "redirect":
            self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        elif mode == "status":
            self._json(fake.status, {"error": {"message": f"upstream failure {CANARY}"}})
        elif not self._authorized(fake):
            self._json(401, {"error": {"message": f"invalid x-api-key {CANARY}"}})
        elif mode == "not-json":
            self._send(200, f"<html>{CANARY}</html>".encode(), {"Content-Type": "text/html"})
        elif mode == "wrong-shape":
            self._json(200, {"object": "list", "items": [CANARY]})
        elif mode == "huge":
            self._send(200, b" " * HUGE, {"Content-Type": "application/json"})
        elif mode == "huge-chunked":
            self._stream(b" " * 65536, HUGE // 65536 + 1, 0.0)
        elif mode == "drip":
            self._stream(b" ", 10_000, fake.drip_pause)
        elif mode == "gzip":
            payload = gzip.compress(json.dumps(self._ok_body()).encode())
            self._send(200, payload, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
        else:
            document = self._ok_body()
            self._json(200 if document is not None else 404, document or {"error": {"message": CANARY}})

    def _authorized(self, fake: FakeProvider) -> bool:
        bearer = self.headers.get("Authorization") == f"Bearer {fake.api_key}"
        anthropic = self.headers.get("x-api-key") == fake.api_key and bool(self.headers.get("anthropic-version"))
        if self.path == "/health":
            return True
        if self.path == "/v1/chat/completions":
            return bearer
        if self.path == "/v1/messages":
            return anthropic
        return bearer or anthropic

    def _ok_body(self) -> dict[str, Any] | None:
        body = self.fake.seen[-1].body
        if isinstance(body, dict) and body.get("model") in self.fake.missing:
            return None  # 404
        if self.path == "/v1/models" and self.command == "GET":
            return {"object": "list", "data": [{"id": name, "object": "model"} for name in self.fake.models]}
        if self.path == "/v1/chat/completions" and body and body.get("max_tokens") == 1:
            choice = {"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "length"}
            return {"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"], "choices": [choice]}
        if self.path == "/v1/messages" and body and body.get("max_tokens") == 1:
            content = [{"type": "text", "text": "OK"}]
            return {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "content": content}
        if self.path == "/health":
            return {"status": "ok"}
        return None

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up
            pass

    def _stream(self, chunk: bytes, count: int, pause: float) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            for _ in range(count):
                self.wfile.write(chunk)
                self.wfile.flush()
                if pause and self.fake.wait(pause):
                    return
        except OSError:
            pass
