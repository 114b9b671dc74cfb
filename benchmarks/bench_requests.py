"""Per-request overhead of the request ledger and of the ASGI middleware (issue 13).

    python benchmarks/bench_requests.py [--requests 50000] [--http-requests 400] [--out benchmarks/out/requests.json]

Measures, on this machine:

1. µs per ``Tracker.record_request`` call (replayed sensor, no sampler thread),
   µs per ``with Tracker.request()`` (begin + end), and the sampler-side cost of
   settling, per request (``sample_now()`` after a burst; this runs off the request path);
2. the middleware's cost in-process: CPU µs per request through ``WattprintMiddleware``
   against the same ASGI app called directly (no network, JSON and streamed responses);
3. the added latency over HTTP: two uvicorn server processes on 127.0.0.1, one with the
   middleware (and a tracker sampling every 0.1 s), one without, 8 concurrent httpx
   clients, the same requests (the app sleeps 5 ms per request, half are streamed);
   rounds alternate between the two servers to spread machine noise.

CodeCarbon (3.3.2) has no per-request attribution to compare against (its
``EmissionsTracker`` measures a whole process or task; there is no request ledger or
ASGI middleware), so nothing is put side by side here; the figures are ours alone.

Figures are printed and written as JSON. Not a timed test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from wattprint import Tracker
from wattprint.integrations.asgi import WattprintMiddleware
from wattprint.testing import replay_sensor


def _tracker() -> Tracker:
    return Tracker(sensors=[replay_sensor(300.0)], interval_s=math.inf, handle_signals=False, save=False, env={})


def bench_ledger(n: int) -> Dict[str, float]:
    """CPU time (``time.process_time``) per request: the machine's other load does not count."""
    clock = time.process_time
    t = _tracker().start()
    now = time.monotonic()
    t0 = clock()
    for i in range(n):  # 50 ms requests, a new one every 6.25 ms: 8 in flight at a time
        s = now + i * 0.00625
        t.record_request(12, 34, s, s + 0.05, first_token_s=s + 0.01, model="m")
    rec_us = (clock() - t0) / n * 1e6
    t1 = clock()
    t.stop()  # settles all of them (record_request's intervals wait retention_s, or stop)
    settle_us = (clock() - t1) / n * 1e6
    t = _tracker().start()
    t0 = clock()
    for _ in range(n):
        with t.request(tokens_in=12, model="m") as r:
            r.tokens_out = 34
    cm_us = (clock() - t0) / n * 1e6
    t1 = clock()
    t.sample_now()
    cm_settle_us = (clock() - t1) / n * 1e6
    t.stop()
    return {"clock": "process_time (CPU)", "record_request_us": rec_us, "record_request_settle_us": settle_us,
            "request_cm_us": cm_us, "request_cm_settle_us": cm_settle_us, "n": n}  # fmt: skip


# -- a fake OpenAI endpoint --------------------------------------------------------------


def _app(sleep_s: float):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    usage = {"prompt_tokens": 8, "completion_tokens": 16, "total_tokens": 24}

    async def completions(request):
        body = await request.json()
        if sleep_s:
            await asyncio.sleep(sleep_s)
        if not body.get("stream"):
            return JSONResponse({"model": "bench", "choices": [{"text": "x" * 16}], "usage": usage})

        async def events():
            for _ in range(16):
                yield 'data: {"model":"bench","choices":[{"text":"x"}]}\n\n'
            yield "data: " + json.dumps({"choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])])


async def _asgi_calls(app: Any, n: int, stream: bool) -> float:
    body = json.dumps({"prompt": "a b c", "max_tokens": 16, "stream": stream}).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/completions", "raw_path": b"/v1/completions", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}  # fmt: skip

    async def receive():
        # the request body once per call of the app; later calls (Starlette listening for a
        # disconnect while it streams) wait, and are cancelled when the response is done
        if not sent_body[0]:
            sent_body[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        return None

    sent_body = [False]
    t0 = time.process_time()  # CPU time: other load on the machine does not count
    for _ in range(n):
        sent_body[0] = False
        await app(dict(scope), receive, send)
    return (time.process_time() - t0) / n * 1e6


def bench_asgi_inprocess(n: int) -> Dict[str, float]:
    inner = _app(0.0)
    t = _tracker().start()
    wrapped = WattprintMiddleware(inner, tracker=t)
    out: Dict[str, float] = {}
    for stream in (False, True):
        key = "stream" if stream else "json"
        bare = [asyncio.run(_asgi_calls(inner, n, stream)) for _ in range(3)]
        mid = [asyncio.run(_asgi_calls(wrapped, n, stream)) for _ in range(3)]
        out[f"{key}_bare_us"] = min(bare)
        out[f"{key}_middleware_us"] = min(mid)
        out[f"{key}_added_us"] = min(mid) - min(bare)
    t.stop()
    return out


# -- over HTTP -------------------------------------------------------------------------


def serve(middleware: bool, port: int) -> None:
    """The benchmark's server process: the fake endpoint, with or without the middleware (and a tracker)."""
    import uvicorn

    app: Any = _app(0.005)
    if middleware:
        t = Tracker(sensors=[replay_sensor(300.0)], interval_s=0.1, handle_signals=False, save=False, env={}).start()
        app = WattprintMiddleware(app, tracker=t)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


class _Server:
    """A server subprocess (this script with ``--serve``), stopped by its PID."""

    def __init__(self, middleware: bool) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cmd = [sys.executable, os.path.abspath(__file__), "--serve", "middleware" if middleware else "bare", "--port", str(self.port)]
        self.proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> str:
        import httpx

        self.proc = subprocess.Popen(self.cmd)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.post(url + "/v1/completions", json={"prompt": "a", "max_tokens": 1}, timeout=2)
                return url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("benchmark server did not start within 60 s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def _http_load(base: str, n: int, concurrency: int) -> List[float]:
    import httpx

    lat: List[float] = []
    jobs = iter(range(n))

    async def client(http: Any) -> None:
        for i in jobs:
            body = {"prompt": "a b c", "max_tokens": 16, "stream": i % 2 == 1}
            t0 = time.perf_counter()
            if body["stream"]:
                async with http.stream("POST", "/v1/completions", json=body) as r:
                    async for _ in r.aiter_bytes():
                        pass
            else:
                await http.post("/v1/completions", json=body)
            lat.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return lat


def bench_http(n: int, concurrency: int = 8, rounds: int = 3) -> Dict[str, float]:
    with _Server(False) as bare_url, _Server(True) as mid_url:
        asyncio.run(_http_load(bare_url, 50, concurrency))  # warm up both
        asyncio.run(_http_load(mid_url, 50, concurrency))
        bare: List[float] = []
        mid: List[float] = []
        for _ in range(rounds):
            bare += asyncio.run(_http_load(bare_url, n, concurrency))
            mid += asyncio.run(_http_load(mid_url, n, concurrency))
    return {"concurrency": concurrency, "requests_each": n * rounds,
            "bare_p50_ms": statistics.median(bare) * 1e3, "middleware_p50_ms": statistics.median(mid) * 1e3,
            "bare_mean_ms": statistics.fmean(bare) * 1e3, "middleware_mean_ms": statistics.fmean(mid) * 1e3,
            "added_p50_ms": (statistics.median(mid) - statistics.median(bare)) * 1e3,
            "added_mean_ms": (statistics.fmean(mid) - statistics.fmean(bare)) * 1e3}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000, help="ledger calls (default 50000)")
    parser.add_argument("--asgi-requests", type=int, default=2000, help="in-process ASGI calls per variant (default 2000)")
    parser.add_argument("--http-requests", type=int, default=400, help="HTTP requests per server per round (default 400)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "requests.json"))
    parser.add_argument("--serve", choices=("bare", "middleware"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve == "middleware", args.port)
        return
    res: Dict[str, Any] = {"ledger": bench_ledger(args.requests), "asgi_in_process": bench_asgi_inprocess(args.asgi_requests),
                           "http_8_clients": bench_http(args.http_requests),
                           "codecarbon": "no per-request equivalent in CodeCarbon 3.3.2: nothing to put side by side",
                           "cpus": os.cpu_count()}  # fmt: skip
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
