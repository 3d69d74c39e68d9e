"""The Function App's run endpoints played by a real HTTP server on 127.0.0.1, as
ingest/drivers/azure/blueprint.py answers them: POST /api/runs answers 202 with the instance id
and its status URL (or 409), and GET /api/runs/{id}, behind the same function key, answers
Running a few times, then Completed (with the run summary) or Failed."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class FakeFunctions:
    port: int
    server: ThreadingHTTPServer
    function_key: str
    running_polls: int = 2
    final_state: str = "Completed"
    summary: dict = field(default_factory=dict)
    conflict: bool = False
    posts: list = field(default_factory=list)
    polls: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_functions(function_key: str = "fn-key-123") -> FakeFunctions:
    fake: FakeFunctions

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _status_urls(self, instance: str) -> dict:
            return {"instance_id": instance, "status_url": f"{fake.url}/api/runs/{instance}"}

        def do_POST(self) -> None:  # noqa: N802
            if self.headers.get("x-functions-key") != fake.function_key:
                self._send(401, {"error": "function key missing or wrong"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.posts.append(body)
            if fake.conflict:
                self._send(409, {"error": "a run of this scope is already running", **self._status_urls("ingest-all")})
                return
            self._send(202, self._status_urls("ingest-all"))

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if self.headers.get("x-functions-key") != fake.function_key:
                self._send(401, {"error": "function key missing or wrong"})
                return
            if parts.path != "/api/runs/ingest-all":
                self._send(404, {"error": f"no run {parts.path}"})
                return
            fake.polls += 1
            if fake.polls <= fake.running_polls:
                self._send(200, {"instance_id": "ingest-all", "runtime_status": "Running",
                                 "progress": {"jobs_done": fake.polls, "jobs_total": 3}, "summary": None})
                return
            self._send(200, {"instance_id": "ingest-all", "runtime_status": fake.final_state,
                             "progress": {"jobs_done": 3, "jobs_total": 3},
                             "summary": fake.summary if fake.final_state == "Completed" else "orchestrator crashed"})

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    fake = FakeFunctions(port=port, server=server, function_key=function_key)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
