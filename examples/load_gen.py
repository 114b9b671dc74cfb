"""A bounded load generator for an OpenAI-compatible server; prints the served energy figures.

    python examples/load_gen.py [--concurrency 8] [--requests 200] [--max-tokens 16] [--url http://127.0.0.1:8008]

Without ``--url`` it starts ``examples/serve_tiny.py`` on a free local port
(``--replay-watts`` is passed on), sends the requests, prints the figures and
stops the server (by its PID). ``--concurrency`` clients send ``--requests``
requests in all, half of them streamed (``--stream-share``), then the script
waits ``--idle-s`` seconds so that the idle share is visible. The figures come
from the server's ``GET /wattprint/inference``: J per output token, Wh per
1,000 requests, mL of water and gCO2e per request, the idle share.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(url: str, n: int, concurrency: int, max_tokens: int, stream_share: float) -> List[float]:
    latencies: List[float] = []
    jobs = iter(range(n))

    async def client(http: httpx.AsyncClient) -> None:
        for i in jobs:
            stream = (i * 37) % 100 < stream_share * 100  # spread over the run
            body: Dict[str, Any] = {"prompt": f"request {i}: " + "tell me something " * (1 + i % 5),
                                    "max_tokens": 1 + (i * 7) % max_tokens, "stream": stream}  # fmt: skip
            if stream:
                body["stream_options"] = {"include_usage": True}
            t0 = time.perf_counter()
            if stream:
                async with http.stream("POST", "/v1/completions", json=body) as r:
                    async for _ in r.aiter_bytes():
                        pass
            else:
                (await http.post("/v1/completions", json=body)).raise_for_status()
            latencies.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return latencies


def _wait_up(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/wattprint/inference", timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not answer within {timeout_s:g} s")


def _fmt(v: Any, unit: str, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}g} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="server base URL (default: start examples/serve_tiny.py)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--stream-share", type=float, default=0.5, help="share of streamed requests, 0-1")
    parser.add_argument("--idle-s", type=float, default=1.0, help="idle wait after the load, seconds")
    parser.add_argument("--replay-watts", type=float, default=None, help="(with a started server) replayed device power, W")
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()
    if not (1 <= args.concurrency <= 256 and 1 <= args.requests <= 100_000 and 1 <= args.max_tokens <= 128):
        parser.error("bounds: 1 <= --concurrency <= 256, 1 <= --requests <= 100000, 1 <= --max-tokens <= 128")
    proc = None
    url = args.url
    if url is None:
        port = _free_port()
        cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve_tiny.py"), "--port", str(port)]
        if args.replay_watts is not None:
            cmd += ["--replay-watts", str(args.replay_watts)]
        if args.output_dir:
            cmd += ["--output-dir", args.output_dir]
        proc = subprocess.Popen(cmd)
        url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url)
        t0 = time.perf_counter()
        lat = asyncio.run(_load(url, args.requests, args.concurrency, args.max_tokens, min(max(args.stream_share, 0.0), 1.0)))
        wall = time.perf_counter() - t0
        time.sleep(max(0.0, args.idle_s))
        inf = httpx.get(url + "/wattprint/inference", timeout=30).json()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    sec = inf.get("inference") or {}
    lat.sort()
    print(f"{len(lat)} requests, {args.concurrency} clients, {wall:.2f} s; latency p50 {lat[len(lat) // 2] * 1000:.1f} ms")
    print(f"energy: {inf.get('measured') or 'unknown'} ({', '.join(inf.get('sources') or []) or 'no sensor'})")
    print(f"requests attributed: {sec.get('requests')}, tokens in/out: {sec.get('tokens_in')}/{sec.get('tokens_out')}")
    print(f"J per output token:     {_fmt(sec.get('j_per_token'), 'J')}")
    print(f"J per request:          {_fmt(sec.get('j_per_request'), 'J')}")
    print(f"Wh per 1,000 requests:  {_fmt(sec.get('wh_per_1000_requests'), 'Wh')}")
    print(f"water per request:      {_fmt(sec.get('water_ml_per_request'), 'mL')}")
    print(f"carbon per request:     {_fmt(sec.get('carbon_g_per_request'), 'gCO2e')}")
    idle = sec.get("idle_share")
    print(f"idle share:             {'n/a' if idle is None else f'{idle * 100:.1f} %'} "
          f"({_fmt(sec.get('idle_energy_j'), 'J')} of {_fmt(sec.get('measured_energy_j'), 'J')})")  # fmt: skip


if __name__ == "__main__":
    main()
