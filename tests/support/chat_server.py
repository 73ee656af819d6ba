"""A real OpenAI-compatible chat server on loopback, with deterministic fault injection.

Tests talk to it over real sockets through our real HTTP client: nothing of ours is mocked.
Faults are chosen by the prompt, so a test states exactly what happens to which request:

* ``[429xN]``   answer 429 with Retry-After for the first N requests with this prompt
* ``[500xN]`` / ``[503xN]``  server errors for the first N requests
* ``[truncxN]``  a 200 whose JSON body is cut off
* ``[dropxN]``   close the connection without answering
* ``[hangxN]``   sleep longer than the client's timeout
* ``[401]``      always unauthorised (a permanent error)

Every other prompt is answered with ``echo: <prompt>`` after ``latency`` seconds. The server
counts requests per prompt so tests can prove nothing was sent twice.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.support.loopback import LoopbackServer, QuietHandler

_FAULT = re.compile(r"\[(429|500|503|trunc|drop|hang)x(\d+)\]")


class ChatServer(LoopbackServer):
    def __init__(
        self,
        latency: float = 0.0,
        hang_s: float = 3.0,
        reply: str | None = None,
        responder: Callable[[list[dict[str, str]]], str] | None = None,
    ):
        self.latency = latency
        self.responder = responder
        self.hang_s = hang_s
        self.reply = reply
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.seen_auth: list[str | None] = []
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = json.dumps({"data": [{"id": "test-model"}]}).encode()
                self._send(200, body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                server.seen_auth.append(self.headers.get("Authorization"))
                prompt = payload["messages"][-1]["content"]
                with server.lock:
                    server.counts[prompt] += 1
                    n = server.counts[prompt]
                if "[401]" in prompt:
                    self._send(401, b'{"error": "bad key"}')
                    return
                match = _FAULT.search(prompt)
                if match and n <= int(match.group(2)):
                    kind = match.group(1)
                    if kind == "429":
                        self._send(429, b'{"error": "slow down"}', {"Retry-After": "0.05"})
                    elif kind in ("500", "503"):
                        self._send(int(kind), b'{"error": "server"}')
                    elif kind == "trunc":
                        self._send(200, b'{"choices": [{"message": {"content": "par')
                    elif kind == "drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                    elif kind == "hang":
                        time.sleep(server.hang_s)
                        self._send(200, self._answer(prompt, payload))
                    return
                if server.latency:
                    time.sleep(server.latency)
                self._send(200, self._answer(prompt, payload))

            def _answer(self, prompt: str, payload: dict[str, Any]) -> bytes:
                if server.responder is not None:
                    text = server.responder(payload["messages"])
                elif server.reply is not None:
                    text = server.reply
                else:
                    text = f"echo: {prompt}"
                return json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": payload.get("model"),
                        "provider": "LoopbackProvider",
                        "system_fingerprint": "fp_test",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": text},
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 3},
                    }
                ).encode()

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


def main() -> None:
    """Run standalone (for subprocess tests): prints the port, serves until killed."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = ChatServer(latency=args.latency)
    print(server.port, flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
