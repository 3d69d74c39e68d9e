"""A CoinGecko-shaped HTTP API on 127.0.0.1 for REST source tests (a real server, not a
request mock): page-number pagination at /api/v3/coins/markets, cursor pagination with an
`updated_since` filter at /v2/coins, and faults to inject per page."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BASE_TIME = datetime(2026, 1, 1, tzinfo=timezone.utc)


def coin(i: int, updated: datetime) -> dict:
    return {"id": f"coin-{i:05d}", "symbol": f"c{i}", "name": f"Coin {i} ✓", "current_price": round(i * 1.5, 2),
            "market_cap": i * 1000, "price_change_percentage_24h": None if i % 10 == 0 else i / 100,
            "last_updated": updated.strftime("%Y-%m-%dT%H:%M:%S.000Z")}


@dataclass
class FakeApi:
    port: int
    server: ThreadingHTTPServer
    coins: list[dict] = field(default_factory=list)
    faults: dict[tuple[str, int], list[tuple[int, dict, bytes]]] = field(default_factory=dict)
    """(endpoint, page) -> responses to serve first, once each: (status, headers, body)."""
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_coins(self, count: int) -> None:
        with self.lock:
            start = len(self.coins)
            for i in range(start + 1, start + count + 1):
                self.coins.append(coin(i, BASE_TIME + timedelta(minutes=i)))

    def inject(self, endpoint: str, page: int, status: int, headers: dict | None = None, body: bytes = b"") -> None:
        self.faults.setdefault((endpoint, page), []).append((status, headers or {}, body))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_api(initial_coins: int = 2500) -> FakeApi:
    from tests.services import free_port

    api: FakeApi

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: object | bytes, headers: dict | None = None) -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            with api.lock:
                api.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers)})
                coins = list(api.coins)
            if parts.path == "/api/v3/coins/markets":
                endpoint, per_page = "markets", int(query.get("per_page", 100))
                page = int(query.get("page", 1))
            elif parts.path == "/v2/coins":
                endpoint, per_page = "cursor", int(query.get("limit", 100))
                page = int(query.get("cursor", 1))
                if "updated_since" in query:
                    coins = [c for c in coins if c["last_updated"] >= query["updated_since"]]
            else:
                self._send(404, {"error": "not found"})
                return
            with api.lock:
                queued = api.faults.get((endpoint, page))
                fault = queued.pop(0) if queued else None
            if fault:
                self._send(fault[0], fault[2] or {"error": "injected"}, fault[1])
                return
            chunk = coins[(page - 1) * per_page: page * per_page]
            if endpoint == "markets":
                self._send(200, chunk)
            else:
                more = page * per_page < len(coins)
                self._send(200, {"data": chunk, "next_cursor": str(page + 1) if more else None})

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    api = FakeApi(port=port, server=server)
    api.add_coins(initial_coins)
    threading.Thread(target=server.serve_forever, name="fake-api", daemon=True).start()
    return api
