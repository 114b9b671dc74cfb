"""ASGI middleware: energy per request of an OpenAI-compatible server (Starlette, FastAPI, any ASGI app).

    from wattprint import Tracker
    from wattprint.integrations.asgi import WattprintMiddleware
    tracker = Tracker(project="serving").start()
    app = WattprintMiddleware(app, tracker=tracker)

Each HTTP request to a tracked path (default: the OpenAI endpoints
``/v1/completions``, ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/responses``)
is one :meth:`wattprint.Tracker.request`: it opens when the request arrives and
closes when the response's last byte is sent. Token counts come from the
response's ``usage`` (``prompt_tokens`` / ``completion_tokens``, or
``input_tokens`` / ``output_tokens``):

- a JSON response is read when complete (up to ``max_body_bytes``; the body is
  passed on unchanged, chunk by chunk, as it is sent);
- a streamed response (``text/event-stream``) is read line by line: the first
  ``data:`` event with content marks the first token (prefill/decode split);
  the ``usage`` of the final event is used when the server sends one (OpenAI's
  ``stream_options: {"include_usage": true}``), else ``tokens_out`` is the
  number of content events (one token each on most servers) and ``tokens_in``
  stays unknown.

The model label is the response's ``model`` (at most 200 characters; the
ledger and the Prometheus exporter bound the number of distinct names);
the endpoint label is the matched path. Nothing here reads a sensor: the
middleware's cost is a few dict updates per request plus parsing the response
(see ``benchmarks/bench_requests.py``).

Failure modes: a tracker that is not running, or any error inside the
accounting, passes the request through untouched (logged once); a response
that is not JSON, or is larger than ``max_body_bytes``, is counted without
token counts. Errors raised by the app itself propagate as they would without
the middleware (the request is still counted).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, MutableMapping, Optional, Sequence

__all__ = ["WattprintMiddleware", "OPENAI_PATHS", "usage_tokens"]

logger = logging.getLogger("wattprint")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OPENAI_PATHS = ("/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/responses")
_MAX_LINE = 1 << 20


def usage_tokens(doc: Any) -> Optional[tuple]:
    """``(tokens_in, tokens_out)`` from an OpenAI-style ``usage`` object in ``doc``, or ``None``."""
    if not isinstance(doc, dict):
        return None
    usage = doc.get("usage")
    if not isinstance(usage, dict):
        return None
    tin = usage.get("prompt_tokens", usage.get("input_tokens"))
    tout = usage.get("completion_tokens", usage.get("output_tokens"))
    tin = tin if isinstance(tin, int) and not isinstance(tin, bool) and tin >= 0 else None
    tout = tout if isinstance(tout, int) and not isinstance(tout, bool) and tout >= 0 else None
    if tin is None and tout is None:
        return None
    return tin, (tout if tout is not None else 0)


def _has_content(event: Dict[str, Any]) -> bool:
    for choice in event.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and (delta.get("content") or delta.get("tool_calls")):
            return True
        if choice.get("text"):
            return True
    return False


class _Reader:
    """Watches one response's messages and fills the request record."""

    def __init__(self, rec: Any, max_body_bytes: int) -> None:
        self.rec = rec
        self.max_body_bytes = max_body_bytes
        self.stream = False
        self.body: Optional[bytearray] = bytearray()
        self.line = b""
        self.events = 0
        self.usage: Optional[tuple] = None

    def start(self, message: Message) -> None:
        for k, v in message.get("headers") or ():
            if bytes(k).lower() == b"content-type":
                self.stream = b"text/event-stream" in bytes(v).lower()

    def body_chunk(self, chunk: bytes) -> None:
        if self.stream:
            self._sse(chunk)
        elif self.body is not None:
            if len(self.body) + len(chunk) > self.max_body_bytes:
                self.body = None
            else:
                self.body += chunk

    def _sse(self, chunk: bytes) -> None:
        data = self.line + chunk
        lines = data.split(b"\n")
        self.line = lines.pop()
        if len(self.line) > _MAX_LINE:
            self.line = b""
        for raw in lines:
            raw = raw.strip()
            if not raw.startswith(b"data:"):
                continue
            payload = raw[5:].strip()
            if not payload or payload == b"[DONE]":
                continue
            if self.events and self.rec.model is not None and b'"usage"' not in payload:
                # past the first token: count content events without parsing each one
                if b'"content"' in payload or b'"text"' in payload or b'"tool_calls"' in payload:
                    self.events += 1
                continue
            try:
                event = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            self._model(event)
            if _has_content(event):
                self.events += 1
                if self.events == 1:
                    self.rec.first_token()
            found = usage_tokens(event)
            if found is not None:
                self.usage = found

    def _model(self, doc: Dict[str, Any]) -> None:
        model = doc.get("model")
        if isinstance(model, str) and model and self.rec.model is None:
            self.rec.model = model[:200]

    def finish(self) -> None:
        if not self.stream and self.body:
            try:
                doc = json.loads(bytes(self.body))
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                self._model(doc)
                self.usage = usage_tokens(doc)
        if self.usage is not None:
            self.rec.tokens_in, self.rec.tokens_out = self.usage
        elif self.stream and self.events:
            self.rec.tokens_out = self.events


class WattprintMiddleware:
    """Pure ASGI middleware counting each tracked request in ``tracker``'s request ledger.

    Args:
        app: the ASGI application.
        tracker: a started :class:`wattprint.Tracker` (requests pass through untracked while it is not running).
        paths: request paths to track (exact match, trailing ``/`` ignored); default :data:`OPENAI_PATHS`.
        max_body_bytes: largest non-streamed response read for its ``usage``, bytes (default 4 MiB).
    """

    def __init__(self, app: Any, tracker: Any, *, paths: Sequence[str] = OPENAI_PATHS, max_body_bytes: int = 4 << 20) -> None:
        if not callable(getattr(tracker, "request", None)):
            raise TypeError("tracker: give a wattprint.Tracker (it needs a request() method)")
        if not isinstance(max_body_bytes, int) or max_body_bytes < 0:
            raise ValueError("max_body_bytes must be an integer >= 0")
        self.app = app
        self.tracker = tracker
        self.paths = frozenset(p.rstrip("/") or "/" for p in paths)
        self.max_body_bytes = max_body_bytes
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path") or "").rstrip("/") or "/"
        if scope.get("type") != "http" or path not in self.paths or not getattr(self.tracker, "running", False):
            await self.app(scope, receive, send)
            return
        try:
            cm = self.tracker.request(endpoint=path)
            rec = cm.__enter__()
        except Exception as err:
            self._warn(err)
            await self.app(scope, receive, send)
            return
        reader = _Reader(rec, self.max_body_bytes)

        async def watched_send(message: Message) -> None:
            try:
                kind = message.get("type")
                if kind == "http.response.start":
                    reader.start(message)
                elif kind == "http.response.body":
                    reader.body_chunk(bytes(message.get("body") or b""))
            except Exception as err:  # the accounting must never break the response
                self._warn(err)
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            try:
                reader.finish()
                cm.__exit__(None, None, None)
            except Exception as err:
                self._warn(err)

    def _warn(self, err: BaseException) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("wattprint: the ASGI middleware could not count a request (%s: %s); requests pass through", type(err).__name__, err)
