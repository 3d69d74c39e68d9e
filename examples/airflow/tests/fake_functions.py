"""The Function App's run endpoints played by a real HTTP server on 127.0.0.1, as
ingest/drivers/azure/blueprint.py answers them: POST /api/runs answers 202 with the instance id
and its status URL (or 409), and GET /api/runs/{id}, behind the same function key, answers
Running a few times, then Completed (with the run summary) or Failed. With `bearer` set, every
call must also carry `Authorization: Bearer <bearer>`, as Easy Auth asks when the app's Entra ID
option is on (Easy Auth itself cannot run here: this server only checks the header). A second
server plays the App Service managed-identity endpoint that azure-identity asks for a token."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


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
    bearer: str | None = None
    redirect_status_to: str | None = None
    authorizations: list = field(default_factory=list)
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_functions(function_key: str = "fn-key-123", host: str = "127.0.0.1") -> FakeFunctions:
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

        def _refused(self) -> bool:
            fake.authorizations.append(self.headers.get("Authorization"))
            if self.headers.get("x-functions-key") != fake.function_key:
                self._send(401, {"error": "function key missing or wrong"})
                return True
            if fake.bearer and self.headers.get("Authorization") != f"Bearer {fake.bearer}":
                self._send(401, {"error": "no Entra ID token for this app"})
                return True
            return False

        def do_POST(self) -> None:  # noqa: N802
            if self._refused():
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
            if self._refused():
                return
            if fake.redirect_status_to:
                self.send_response(302)
                self.send_header("Location", fake.redirect_status_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
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

    server = ThreadingHTTPServer((host, 0), Handler)
    fake = FakeFunctions(port=server.server_port, server=server, function_key=function_key, host=host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


@dataclass
class FakeManagedIdentity:
    """App Service's managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER), as
    azure-identity calls it: GET ?api-version=2019-08-01&resource=<scope without /.default>."""

    server: ThreadingHTTPServer
    token: str
    header_secret: str
    resources: list = field(default_factory=list)
    fail: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/msi/token"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_managed_identity(token: str = "entra-token-xyz", header_secret: str = "identity-header") -> FakeManagedIdentity:
    identity: FakeManagedIdentity

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            query = dict(parse_qsl(urlsplit(self.path).query))
            identity.resources.append(query.get("resource"))
            ok = self.headers.get("X-IDENTITY-HEADER") == identity.header_secret and not identity.fail
            body = ({"access_token": identity.token, "expires_on": str(int(time.time()) + 3600),
                     "resource": query.get("resource"), "token_type": "Bearer"} if ok
                    else {"error": "invalid_request", "error_description": "no identity for this resource"})
            data = json.dumps(body).encode()
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    identity = FakeManagedIdentity(server=server, token=token, header_secret=header_secret)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return identity
