"""A small HTTPS fake of the Azure Key Vault secrets REST API, for tests.

No Key Vault emulator exists, so the tests run the real `azure-keyvault-secrets` SecretClient
against this server: TLS on 127.0.0.1 with a self-signed certificate made at start (the client
trusts it through `connection_verify=<cert path>`), the bearer challenge the real service sends
(401 + `WWW-Authenticate: Bearer authorization=..., resource=...`), and the paths and bodies
the client reads:

    GET /secrets/{name}/{version}?api-version=...   200 {value, id, attributes}
                                                    404 {"error": {"code": "SecretNotFound"}}

Secret names are case-insensitive and limited to letters, digits and dashes (400 otherwise),
as in the real service. Tokens come from `FakeTokenCredential` below: Entra ID cannot run
here, so this credential stands in for DefaultAzureCredential in tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TENANT = "00000000-0000-0000-0000-000000000001"
CHALLENGE = (f'Bearer authorization="https://login.microsoftonline.com/{TENANT}",'
             ' resource="https://vault.azure.net"')
_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_PATH = re.compile(r"^/secrets/(?P<name>[^/]+)/?(?P<version>[^/]*)$")


class FakeTokenCredential:
    """Hands out a fixed bearer token and remembers the scopes asked for. Stands in for
    DefaultAzureCredential because Entra ID cannot run here."""

    def __init__(self, token: str = "fake-kv-token") -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "vault-cert.pem", directory / "vault-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Request:
    method: str
    name: str | None
    version: str | None
    status: int
    authorized: bool


@dataclass
class FakeKeyVault:
    """The fake's state: secrets with their versions, and every request it answered."""

    token: str = "fake-kv-token"
    secrets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """lowercased name -> [(version, value)], latest last"""
    denied: set[str] = field(default_factory=set)
    """names answered with 403 Forbidden (identity without the get permission)"""
    fail_status: int | None = None
    """when set, every authorized request is answered with this status (e.g. 503)"""
    requests: list[Request] = field(default_factory=list)
    cert_path: Path | None = None
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def set_secret(self, name: str, value: str) -> str:
        """Add a new version of `name` (as `az keyvault secret set` does); returns the version."""
        version = uuid.uuid4().hex
        with self._lock:
            self.secrets.setdefault(name.lower(), []).append((version, value))
        return version

    def gets(self, name: str) -> int:
        """Authorized GETs answered for `name` (any status)."""
        with self._lock:
            return sum(1 for r in self.requests if r.authorized and r.name == name.lower())

    def start(self) -> "FakeKeyVault":
        workdir = Path(tempfile.mkdtemp(prefix="fake-kv-"))
        self.cert_path, key_path = make_self_signed_cert(workdir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-keyvault", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- request handling ------------------------------------------------------------------
    def answer(self, method: str, path: str, authorization: str | None) -> tuple[int, dict[str, str], dict]:
        parts = urlsplit(path)
        match = _PATH.match(parts.path)
        name = match.group("name").lower() if match else None
        version = (match.group("version") or None) if match else None
        authorized = authorization == f"Bearer {self.token}"
        status, headers, body = self._route(method, parts, match, name, version, authorized)
        with self._lock:
            self.requests.append(Request(method, name, version, status, authorized))
        return status, headers, body

    def _route(self, method: str, parts: Any, match: Any, name: str | None, version: str | None,
               authorized: bool) -> tuple[int, dict[str, str], dict]:
        if not authorized:
            return 401, {"WWW-Authenticate": CHALLENGE}, _error(
                "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        if "api-version" not in parse_qs(parts.query):
            return 400, {}, _error("BadParameter", "The api-version query parameter is required.")
        if method != "GET" or match is None:
            return 404, {}, _error("NotFound", f"{method} {parts.path} is not served by this fake.")
        if not _NAME.match(name or ""):
            return 400, {}, _error("BadParameter", "The secret name is invalid.")
        if self.fail_status is not None:
            return self.fail_status, {}, _error("ServiceUnavailable", "The fake vault is failing on purpose.")
        if name in self.denied:
            return 403, {}, _error("Forbidden", f"The user does not have secrets get permission on {name}.")
        with self._lock:
            versions = list(self.secrets.get(name, []))
        if version:
            versions = [v for v in versions if v[0] == version]
        if not versions:
            return 404, {}, _error("SecretNotFound", f"A secret with (name/id) {name} was not found"
                                                     " in this key vault.")
        found_version, value = versions[-1]
        created = int(time.time())
        return 200, {}, {
            "value": value,
            "id": f"{self.url}/secrets/{name}/{found_version}",
            "attributes": {"enabled": True, "created": created, "updated": created,
                           "recoveryLevel": "Recoverable+Purgeable"},
            "tags": {},
        }


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _handler_for(vault: FakeKeyVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _respond(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, headers, body = vault.answer(self.command, self.path, self.headers.get("Authorization"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = _respond

        def log_message(self, *_: Any) -> None:  # keep test output quiet
            pass

    return Handler
