"""The part every test HTTP server shares: bind 127.0.0.1 on a free port, serve on a
thread, and treat clients that hang up as part of the test rather than server errors."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out or hang up are part of the tests, not server errors."""


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not print a line per request into the test output."""

    def log_message(self, *args: Any) -> None:
        pass


class LoopbackServer:
    """Serve ``handler`` on 127.0.0.1; use as a context manager."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
