"""Entra ID (Azure AD) access tokens for SQL Server / Azure SQL through pyodbc.

azure-identity fetches the token (managed identity, or DefaultAzureCredential on a laptop) and
caches it until shortly before it expires; each new DBAPI connection asks for it again and
hands it to the ODBC driver as the pre-connect attribute SQL_COPT_SS_ACCESS_TOKEN: the token's
UTF-16-LE bytes behind a 4-byte little-endian length (Microsoft's ODBC driver 17 and 18).
This is the SQLAlchemy recipe for Azure SQL tokens (a `do_connect` event); written here
because no library ships it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.core.errors import SourceAuthenticationError
from ingest.core.redact import register_secret

SQL_COPT_SS_ACCESS_TOKEN = 1256
"""msodbcsql.h: pre-connect attribute that carries an access token."""
AZURE_SQL_SCOPE = "https://database.windows.net/.default"


class TokenCredential(Protocol):
    """What azure-identity credentials offer (azure.core.credentials.TokenCredential)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


def pack_access_token(token: str) -> bytes:
    """The token as SQL_COPT_SS_ACCESS_TOKEN expects it: length (uint32 LE) + UTF-16-LE bytes."""
    data = token.encode("utf-16-le")
    return struct.pack("<I", len(data)) + data


def make_credential(authentication: str, client_id: str | None = None) -> TokenCredential:
    """The azure-identity credential for an `authentication` field value."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if authentication == "managed_identity":
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    if authentication == "default_credential":
        return DefaultAzureCredential(managed_identity_client_id=client_id) if client_id \
            else DefaultAzureCredential()
    raise ValueError(f"no Entra ID credential for authentication {authentication!r}")


@dataclass(frozen=True)
class AccessTokenAuth:
    """Where a connection's Entra ID token comes from."""

    connection: str
    authentication: str
    credential: TokenCredential
    scope: str = AZURE_SQL_SCOPE

    def packed_token(self) -> bytes:
        try:
            token = self.credential.get_token(self.scope).token
        except Exception as exc:  # azure-identity raises several types; all mean "no token"
            raise SourceAuthenticationError(
                f"connection '{self.connection}': no Entra ID token for Azure SQL"
                f" ({self.authentication}: {type(exc).__name__}). On Azure, turn on the Function"
                " App's managed identity (and set client_id for a user-assigned one); locally, use"
                " authentication = default_credential after `az login`.") from exc
        register_secret(token)
        return pack_access_token(token)

    def attach(self, engine: Engine) -> None:
        """Give every new DBAPI connection of `engine` a fresh token."""
        sa.event.listen(engine, "do_connect", self._on_connect)

    def _on_connect(self, dialect: Any, conn_rec: Any, cargs: list, cparams: dict) -> None:
        # SQLAlchemy adds Trusted_Connection=Yes when the URL has no user; the driver refuses
        # an access token together with it (or with UID / PWD / Authentication).
        cargs[0] = ";".join(part for part in cargs[0].split(";")
                            if part.split("=")[0].strip().lower() != "trusted_connection")
        attrs = dict(cparams.get("attrs_before") or {})
        attrs[SQL_COPT_SS_ACCESS_TOKEN] = self.packed_token()
        cparams["attrs_before"] = attrs
