"""Where a REST job's requests may go (docs/security.md). The hosts a connection's credential
may travel to are set by whoever owns the secret, beside it, never in the workbook:

    sources.<connection>.allowed_hosts   host names or addresses, comma-separated (or a list);
                                         `*.example.com` allows every subdomain of example.com
    sources.<connection>.allow_http      true: plain http is allowed (loopback tests); default
                                         https only

They are resolved by dlt's config providers like the API key (SOURCES__<CONN>__ALLOWED_HOSTS,
Key Vault, .dlt/secrets.toml). A connection with an API key and no allowed_hosts is refused.
The job's HTTP session (ingest/sources/http.py) checks every request before it is sent: the
base_url's, each next-page link's (json_link, header_link) and each redirect hop's. A host
that is, or resolves to, a non-public address (private, loopback, link-local, shared,
reserved) is refused unless allowed_hosts lists it exactly (not through a `*.` entry).
A refusal raises HostNotAllowedError naming the job and the host; nothing is sent."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dlt

from ingest.core.errors import ConnectionConfigError, HostNotAllowedError, IngestError
from ingest.core.keyvault.registration import expected_secret

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}


def setting_key(connection: str, name: str) -> str:
    return f"sources.{connection}.{name}"


def env_name(connection: str, name: str) -> str:
    return f"SOURCES__{connection.upper()}__{name.upper()}"


@dataclass(frozen=True)
class HostPolicy:
    """The hosts one job may send requests to. `allowed_hosts` empty: any public host (only
    for jobs that send no credential; see `host_policy`)."""

    job_name: str
    connection: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    allow_http: bool = False

    def check(self, url: str, what: str) -> None:
        """Raise HostNotAllowedError unless `url` may be requested; `what` says which request
        it is (base_url, request, redirect) for the message."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        if parts.scheme != "https" and not (parts.scheme == "http" and self.allow_http):
            raise HostNotAllowedError(self._refused(what, host, f"{parts.scheme or 'no scheme'} is not https; "
                                                    f"{self._setting_hint('allow_http', 'true')}"))
        if self.allowed_hosts and not any(host_matches(host, entry) for entry in self.allowed_hosts):
            raise HostNotAllowedError(self._refused(
                what, host, f"not in {self._setting('allowed_hosts')} ({', '.join(self.allowed_hosts)})"))
        if host not in self.allowed_hosts:
            address = non_public_address(host)
            if address:
                raise HostNotAllowedError(self._refused(
                    what, host, f"{address} is not a public address; {self._setting_hint('allowed_hosts', host)}"))

    def _refused(self, what: str, host: str, reason: str) -> str:
        return f"job '{self.job_name}': {what} to host '{host}' refused before sending: {reason}"

    def _setting(self, name: str) -> str:
        return setting_key(self.connection, name) if self.connection else f"sources.<connection>.{name}"

    def _setting_hint(self, name: str, value: str) -> str:
        if not self.connection:
            return f"give the job a connection and set {self._setting(name)} = {value} (beside its secrets)"
        return f"an operator may set {self._setting(name)} = {value} ({env_name(self.connection, name)})"


def host_matches(host: str, entry: str) -> bool:
    """`entry` is a host exactly, or `*.domain` for any name below domain."""
    if entry.startswith("*."):
        return host.endswith(entry[1:]) and len(host) > len(entry) - 1
    return host == entry


def non_public_address(host: str) -> str | None:
    """The first address of `host` that is not globally routable, or None. A name that does
    not resolve passes here: the connection then fails on its own."""
    for text in _addresses(host):
        address = ipaddress.ip_address(text.split("%")[0])
        if not all(part.is_global for part in (address, *embedded_ipv4(address))):
            return str(address)
    return None


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries to an IPv4 host: mapped (::ffff:a.b.c.d),
    IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::) and Teredo's
    server and client. `[::7f00:1]` reaches 127.0.0.1 on a host that routes these forms, so
    the private-address check looks at the embedded address too."""
    if address.version == 4:
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    found.extend(address.teredo or ())
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError):
        return []


def parse_allowed_hosts(connection: str, raw: Any) -> tuple[str, ...]:
    """The hosts of `sources.<connection>.allowed_hosts`: comma- or space-separated text, a
    JSON list, or a list (TOML)."""
    if raw is None or raw == "":
        return ()
    items: Any = raw
    if isinstance(raw, str):
        text = raw.strip()
        try:
            items = json.loads(text) if text.startswith("[") else re.split(r"[,\s]+", text)
        except ValueError:
            raise ConnectionConfigError(f"connection '{connection}': allowed_hosts starts with '[' but is"
                                        " not a JSON list") from None
    if not isinstance(items, (list, tuple)):
        raise ConnectionConfigError(f"connection '{connection}': allowed_hosts must be host names, comma-separated")
    return tuple(_host_entry(connection, str(item)) for item in items if str(item).strip())


def _host_entry(connection: str, entry: str) -> str:
    host = entry.strip().rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if not _HOST_NAME.match(host):
        raise ConnectionConfigError(f"connection '{connection}': allowed_hosts entry '{entry.strip()}' is not a host"
                                    " name or address (write api.example.com or *.example.com: no scheme, port"
                                    " or path)")
    return host


def parse_flag(connection: str, name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = "" if raw is None else str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConnectionConfigError(f"connection '{connection}': {name} must be true or false")


def _read(connection: str, name: str) -> Any:
    key = setting_key(connection, name)
    try:
        value = dlt.secrets.get(key)
        return dlt.config.get(key) if value is None else value
    except IngestError as exc:  # Key Vault refused or unreachable: keep its class
        raise type(exc)(f"connection '{connection}': {exc}") from None
    except Exception as exc:
        raise ConnectionConfigError(f"connection '{connection}': {key} could not be read"
                                    f" ({type(exc).__name__})") from None


def _missing_hosts_message(connection: str) -> str:
    places = [env_name(connection, "allowed_hosts"), f"[sources.{connection}] allowed_hosts in .dlt/secrets.toml"]
    vault = expected_secret(setting_key(connection, "allowed_hosts"))
    if vault:
        places.insert(1, vault)
    return (f"connection '{connection}': an API key is set but no allowed_hosts, and a key is only sent to hosts"
            f" its owner allowed; set {', '.join(places[:-1])} or {places[-1]} to the API's host names"
            " (e.g. api.example.com)")


def host_policy(job_name: str, connection: str | None, sends_credential: bool) -> HostPolicy:
    """The policy of a job from its connection's settings. A job that sends a credential must
    have allowed_hosts (fail closed)."""
    if not connection:
        if sends_credential:
            raise ConnectionConfigError(f"job '{job_name}': a credential needs a connection with allowed_hosts")
        return HostPolicy(job_name)
    hosts = parse_allowed_hosts(connection, _read(connection, "allowed_hosts"))
    if sends_credential and not hosts:
        raise ConnectionConfigError(_missing_hosts_message(connection))
    allow_http = parse_flag(connection, "allow_http", _read(connection, "allow_http"))
    return HostPolicy(job_name, connection, hosts, allow_http)
