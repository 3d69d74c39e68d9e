"""A JSON API on any loopback address that records every request it receives, for the tests
of where a REST credential may travel. 127.0.0.1 and 127.0.0.2 are two different hosts to
an HTTP client (both on this machine's loopback interface): one is the connection's allowed
host, the other a stranger whose server tells the tests exactly what reached it.

Routes are set per path: a JSON page, a page with a next link (in the body or in a Link
header) or a redirect. Every other path answers a final page of one record, so a client
that follows a link to the stranger would load "successfully": the records prove it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    """One request as the server saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]

    def carries(self, secret: str) -> bool:
        """Whether the secret is anywhere in the request line's query or a header."""
        values = list(self.query.values()) + list(self.headers.values())
        return any(secret in value for value in values)


@dataclass
class LoopbackApi:
    host: str
    server: ThreadingHTTPServer
    routes: dict[str, tuple[int, dict[str, str], object]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def page(self, path: str, records: list[dict], next_url: str | None = None, link: str | None = None) -> None:
        """`path` answers {"data": records, "next": next_url}; `link` adds a Link header."""
        headers = {"Link": f'<{link}>; rel="next"'} if link else {}
        self.routes[path] = (200, headers, {"data": records, "next": next_url})

    def redirect(self, path: str, status: int, location: str) -> None:
        self.routes[path] = (status, {"Location": location}, {"moved": location})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_loopback_api(host: str) -> LoopbackApi:
    """Serve on `host` (e.g. 127.0.0.2) at a free port."""
    api: LoopbackApi

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            with api.lock:
                api.received.append(Received(parts.path, query, dict(self.headers)))
                status, headers, payload = api.routes.get(
                    parts.path, (200, {}, {"data": [{"id": f"{host}{parts.path}"}], "next": None}))
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, 0), Handler)
    api = LoopbackApi(host=host, server=server)
    threading.Thread(target=server.serve_forever, name=f"loopback-api-{host}", daemon=True).start()
    return api
