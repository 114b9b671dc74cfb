"""A real OTLP/HTTP metrics endpoint on 127.0.0.1 for the exporter tests.

Run as a child process (``python -m servers.otlp PORT OUT.jsonl [STATUS]``): every
``POST /v1/metrics`` body is decoded with ``opentelemetry-proto``'s
``ExportMetricsServiceRequest`` and appended to ``OUT.jsonl`` as one JSON line
(``MessageToDict``); it answers ``STATUS`` (default 200) with an empty
``ExportMetricsServiceResponse``. ``GET /ready`` answers 200. :func:`start_otlp`
starts it on a free port and returns the :class:`~servers._proc.Server` (stop by PID).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

try:
    from servers._proc import Server, free_port
except ImportError:  # run as a script with tests/ not on the path
    pass


def start_otlp(tmp_dir: str, status: int = 200) -> Any:
    port = free_port()
    out = os.path.join(tmp_dir, "otlp.jsonl")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=here + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = Server("otlp", [sys.executable, "-m", "servers.otlp", str(port), out, str(status)], port, "/ready",
                    log_path=os.path.join(tmp_dir, "otlp.log"), env=env)
    server.out = out  # type: ignore[attr-defined]
    return server


def requests_of(path: str) -> List[Dict[str, Any]]:
    """The decoded requests received so far (oldest first)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _serve(port: int, out: str, status: int) -> None:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/ready" else 404)
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/v1/metrics":
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with open(out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(MessageToDict(request)) + "\n")
            reply = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(status if self.path == "/v1/metrics" else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 200)
