"""A loopback HTTP server that sends exactly the bytes a test gives it.

The shared ChatServer always answers well-formed chat completions; these tests need what a
broken or hostile provider sends: a refusal field, an error inside a 200, a body with no
Content-Length that never ends, escape sequences in an error message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.loopback import LoopbackServer, QuietHandler


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Sent with Transfer-Encoding: chunked, in this many chunks of body (no length given)
    chunks: int = 0


def completion(message: dict[str, Any], **extra: Any) -> bytes:
    """A chat-completion body whose first choice carries ``message``."""
    return json.dumps(
        {"choices": [{"index": 0, "finish_reason": "stop", "message": message}], **extra}
    ).encode()


class RawServer(LoopbackServer):
    def __init__(self, respond: Callable[[dict[str, Any]], Reply]):
        self.requests: list[dict[str, Any]] = []
        self.gets: list[str] = []  # paths of GET requests (a followed redirect arrives as one)
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.gets.append(self.path)
                self._send(Reply(200, b'{"data": []}'))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(payload)
                self._send(respond(payload))

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if reply.chunks:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    size = max(1, len(reply.body) // reply.chunks)
                    try:
                        for start in range(0, len(reply.body), size):
                            part = reply.body[start : start + size]
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    except OSError:  # the client hung up on a body it refused: expected
                        self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    self.wfile.write(reply.body)
                except OSError:
                    self.close_connection = True

        super().__init__(Handler)
