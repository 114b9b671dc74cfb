"""WattprintMiddleware against a real server: uvicorn + Starlette on 127.0.0.1, httpx clients (issue 13).

The app is a fake OpenAI-compatible completion endpoint (a few ms per token,
streamed or not); the tracker measures a replayed 300 W GPU with its sampler
thread running. Bounded waits only; the server is stopped in ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from wattprint import Tracker  # noqa: E402
from wattprint.integrations.asgi import WattprintMiddleware, usage_tokens  # noqa: E402
from wattprint.testing import replay_sensor  # noqa: E402

W = 300.0
TOKEN_S = 0.002


async def completions(request: Request):
    body = await request.json()
    tin = len(str(body.get("prompt", "")).split())
    tout = int(body.get("max_tokens", 4))
    usage = {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout}
    if not body.get("stream"):
        await asyncio.sleep(TOKEN_S * (tout + 1))
        return JSONResponse({"id": "c", "object": "text_completion", "model": "tiny-test",
                             "choices": [{"index": 0, "text": "x " * tout}], "usage": usage})
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    async def events():
        await asyncio.sleep(TOKEN_S)
        for _ in range(tout):
            await asyncio.sleep(TOKEN_S)
            yield "data: " + json.dumps({"model": "tiny-test", "choices": [{"index": 0, "text": "x"}]}) + "\n\n"
        if with_usage:
            yield "data: " + json.dumps({"model": "tiny-test", "choices": [], "usage": usage}) + "\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def health(request: Request):
    return JSONResponse({"ok": True})


class Server:
    def __init__(self, app):
        # uvicorn serves a socket bound here (port 0), so no other process can take the port between a check and its bind
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60  # a cap: it starts in well under a second
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start within 60 s"
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(60)
        self.sock.close()
        assert not self.thread.is_alive()


def _app(tracker):
    inner = Starlette(routes=[Route("/v1/completions", completions, methods=["POST"]), Route("/health", health)])
    return WattprintMiddleware(inner, tracker=tracker)


async def _load(base: str, n: int, concurrency: int):
    sent = []
    lock = asyncio.Lock()
    counter = iter(range(n))

    async def worker(client):
        for i in counter:
            stream = i % 2 == 1
            body = {"prompt": "word " * (4 + i % 7), "max_tokens": 2 + i % 9, "stream": stream}
            if stream and i % 4 == 1:
                body["stream_options"] = {"include_usage": True}
            if stream:
                async with client.stream("POST", "/v1/completions", json=body) as r:
                    text = "".join([chunk async for chunk in r.aiter_text()])
                assert text.endswith("data: [DONE]\n\n")
            else:
                r = await client.post("/v1/completions", json=body)
                assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == body["max_tokens"]
            async with lock:
                sent.append(body)

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await client.get("/health")  # untracked path
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return sent


def test_middleware_8_clients_200_requests_conserve_energy(tmp_path):
    tracker = Tracker(sensors=[replay_sensor(W)], interval_s=0.05, handle_signals=False, save=False,
                      output_dir=str(tmp_path), requests_log="requests.jsonl", env={})  # fmt: skip
    tracker.start()
    rows = []
    try:
        with Server(_app(tracker)) as base:
            time.sleep(0.1)  # some idle time before traffic
            sent = asyncio.run(_load(base, 200, 8))
            time.sleep(0.1)
    finally:
        fp = tracker.stop()
    inf = fp.to_dict()["inference"]
    assert inf["requests"] == len(sent) == 200
    assert inf["estimated_requests"] == 0
    total = inf["energy_j"] + inf["idle_energy_j"]
    assert abs(total - fp.energy_j) / fp.energy_j < 0.01
    assert inf["idle_energy_j"] > 0
    # tokens: non-streamed and streamed-with-usage from usage, streamed-without from the event count
    assert inf["tokens_out"] == sum(b["max_tokens"] for b in sent)
    with_usage = [b for b in sent if not b["stream"] or b.get("stream_options")]
    assert inf["tokens_in"] == sum(len(b["prompt"].split()) for b in with_usage)
    assert inf["prefill"]["requests"] == 100  # every streamed request has a first-token time
    assert inf["by_model"]["tiny-test"]["requests"] == 200
    rows = [json.loads(x) for x in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(rows) == 200 and {r["endpoint"] for r in rows} == {"/v1/completions"}
    for r in rows:  # no request is charged more than the device drew while it was in flight
        assert r["energy_j"] <= W * r["duration_s"] * 1.001 + 1e-9


def test_overlapping_requests_share_instead_of_each_taking_the_interval(tmp_path):
    tracker = Tracker(sensors=[replay_sensor(W)], interval_s=10.0, handle_signals=False, save=False, env={})
    tracker.start()
    try:
        with Server(_app(tracker)) as base:
            asyncio.run(_load(base, 16, 8))
    finally:
        fp = tracker.stop()
    inf = fp.to_dict()["inference"]
    # one sampler interval (10 s): the whole run; requests share it, they do not each take it
    assert inf["energy_j"] + inf["idle_energy_j"] == pytest.approx(fp.energy_j, rel=1e-6)
    assert inf["energy_j"] < fp.energy_j


def test_untracked_and_stopped_tracker_pass_through():
    tracker = Tracker(sensors=[replay_sensor(W)], interval_s=float("inf"), handle_signals=False, save=False, env={})
    app = _app(tracker)  # never started
    with Server(app) as base:
        r = httpx.post(base + "/v1/completions", json={"prompt": "a b", "max_tokens": 2}, timeout=60)
        assert r.status_code == 200
    assert usage_tokens({"usage": {"input_tokens": 3, "output_tokens": 4}}) == (3, 4)
    assert usage_tokens({"usage": {"prompt_tokens": True}}) is None
    with pytest.raises(TypeError):
        WattprintMiddleware(app, tracker=object())
