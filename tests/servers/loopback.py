"""A threaded HTTP server on 127.0.0.1 and a free port, for tests that fake a web API."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Type


def serve(handler: Type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Yield the server's base URL (``http://127.0.0.1:PORT``); shut it down afterwards (a fixture body)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
