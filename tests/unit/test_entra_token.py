"""Entra ID tokens for Azure SQL: packing, and the engine handing a fresh token to pyodbc on
every connection. No Entra ID can be reached from here, so the credential is a fake object
with azure-identity's get_token signature (FakeCredential); the engine, SQLAlchemy's events,
pyodbc and unixODBC are real (the connection fails because Microsoft's ODBC driver is not
installed, after the token was handed over, at 127.0.0.1)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from ingest.core.classify import classify
from ingest.config.model import SourceType
from ingest.core.errors import DriverNotInstalledError, SourceAuthenticationError
from ingest.core.redact import redact
from ingest.sources.connections import build_connection
from ingest.sources.entra import SQL_COPT_SS_ACCESS_TOKEN, AccessTokenAuth, pack_access_token
from ingest.sources.sql import make_engine

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.fake-token-Canary-4410"


@dataclass
class FakeCredential:
    """Stands in for ManagedIdentityCredential (no Entra ID here): same get_token signature."""

    tokens: list[str] = field(default_factory=lambda: [TOKEN])
    scopes: list[str] = field(default_factory=list)
    error: Exception | None = None

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.extend(scopes)
        if self.error:
            raise self.error
        return AccessToken(self.tokens[min(len(self.scopes), len(self.tokens)) - 1], 4102444800)


def test_token_is_packed_as_utf16le_behind_its_length():
    assert pack_access_token("ab€") == b"\x06\x00\x00\x00a\x00b\x00\xac\x20"
    packed = pack_access_token(TOKEN)
    assert int.from_bytes(packed[:4], "little") == 2 * len(TOKEN) == len(packed) - 4
    assert packed[4:].decode("utf-16-le") == TOKEN


def managed_identity_engine(credential: FakeCredential):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = build_connection("dw", SourceType.AZURE_SQL, {
        "host": "127.0.0.1", "port": port, "database": "dw", "authentication": "managed_identity"})
    assert source.access_token is not None
    object.__setattr__(source.access_token, "credential", credential)
    engine = make_engine(source)
    seen: list[tuple[str, dict]] = []
    sa.event.listen(engine, "do_connect", lambda dialect, rec, cargs, cparams: seen.append((cargs[0], dict(cparams))))
    return engine, seen


def connect_error(engine) -> BaseException:
    try:
        engine.connect()
    except Exception as exc:
        return exc
    raise AssertionError("connected")


def test_engine_hands_a_fresh_token_to_every_new_connection():
    credential = FakeCredential(tokens=[TOKEN, TOKEN + "-refreshed"])
    engine, seen = managed_identity_engine(credential)
    first = connect_error(engine)
    connect_error(engine)
    assert credential.scopes == ["https://database.windows.net/.default"] * 2
    connection_string, cparams = seen[0]
    assert "Trusted_Connection" not in connection_string and "UID=" not in connection_string
    assert "Encrypt=yes;TrustServerCertificate=no" in connection_string
    assert cparams["attrs_before"] == {SQL_COPT_SS_ACCESS_TOKEN: pack_access_token(TOKEN)}
    assert seen[1][1]["attrs_before"][SQL_COPT_SS_ACCESS_TOKEN] == pack_access_token(TOKEN + "-refreshed")
    assert cparams["timeout"] == 30
    error = classify(first)  # the real unixODBC error: Microsoft's driver is not installed here
    assert type(error) is DriverNotInstalledError and "ODBC Driver 18 for SQL Server" in str(error)
    assert TOKEN not in redact(f"token={TOKEN} and {TOKEN}")  # registered as a secret once fetched


def test_no_token_is_an_authentication_error_that_says_what_to_do():
    engine, seen = managed_identity_engine(FakeCredential(error=ClientAuthenticationError("no identity")))
    error = classify(connect_error(engine))
    assert type(error) is SourceAuthenticationError
    assert "no Entra ID token for Azure SQL (managed_identity: ClientAuthenticationError)" in str(error)
    assert "turn on the Function App's managed identity" in str(error)
    assert seen == []  # the driver was never called without a token


def test_default_credential_is_built_from_azure_identity():
    from azure.identity import DefaultAzureCredential

    source = build_connection("dw", SourceType.AZURE_SQL, {
        "host": "s.database.windows.net", "database": "dw", "authentication": "default_credential"})
    assert isinstance(source.access_token, AccessTokenAuth)
    assert isinstance(source.access_token.credential, DefaultAzureCredential)


@pytest.mark.parametrize("authentication", ["managed_identity", "default_credential"])
def test_sqlserver_with_entra_id_is_allowed_with_microsofts_driver(authentication):
    source = build_connection("erp", SourceType.MSSQL, {
        "host": "mi.example.database.windows.net", "database": "erp", "authentication": authentication})
    assert source.access_token is not None and source.url.username is None
