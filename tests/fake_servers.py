"""Tiny stand-ins for an Oracle listener and a SQL Server, on 127.0.0.1, for what no real
server can do here (neither runs on this machine). They speak just enough of the wire
protocol for the REAL drivers (python-oracledb thin, FreeTDS through pyodbc) to connect,
send their login, and raise their own exceptions from the server's answer:

- FakeOracleListener: accepts the TNS CONNECT (keeping the connect descriptor the driver
  sent: SERVICE_NAME or SID), then closes, sends garbage or a TNS REFUSE with an ORA code.
- FakeTdsServer: answers PRELOGIN (no TLS), decodes the LOGIN7 (user, password, database),
  then fails the login with a SQL Server error number (18456, 40615, 40613...) or accepts it
  and fails chosen SQL batches (1205 deadlock).
- FakeSqlBrowser: the SQL Server Browser (UDP 1434) answering a named instance's port.

Every server records what it received so tests can assert on the bytes the driver sent.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

# --- Oracle -------------------------------------------------------------------------------
TNS_REFUSE = 4


class FakeOracleListener:
    """mode: "close" (accept then close), "garbage" (answer with HTTP text) or "refuse"
    (a TNS REFUSE packet carrying `refuse_code`, as a real listener sends for ORA-12514)."""

    def __init__(self, mode: str = "refuse", refuse_code: int = 12514) -> None:
        self.mode = mode
        self.refuse_code = refuse_code
        self.received: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def descriptors(self) -> list[str]:
        """The connect descriptors the driver sent, e.g. `(DESCRIPTION=...(SERVICE_NAME=X)...)`."""
        found = []
        for data in self.received:
            match = re.search(rb"\(DESCRIPTION=.*\)", data, re.S)
            if match:
                found.append(match.group(0).decode("ascii", "replace"))
        return found

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(3)
                data = _read_until(conn, lambda b: self.mode != "refuse" or _balanced_descriptor(b))
                self.received.append(data)
                if self.mode == "garbage":
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)
                elif self.mode == "refuse":
                    conn.sendall(_tns_refuse(self.refuse_code))
                time.sleep(0.1)

    def close(self) -> None:
        self._sock.close()


def _balanced_descriptor(data: bytes) -> bool:
    start = data.find(b"(DESCRIPTION=")
    return start >= 0 and data[start:].count(b"(") == data[start:].count(b")")


def _tns_refuse(code: int) -> bytes:
    body = (f"(DESCRIPTION=(TMP=)(VSNNUM=0)(ERR={code})"
            f"(ERROR_STACK=(ERROR=(CODE={code})(EMFI=4))))").encode()
    payload = struct.pack(">BBH", 1, 0, len(body)) + body
    return struct.pack(">HHBBH", 8 + len(payload), 0, TNS_REFUSE, 0, 0) + payload


def _read_until(conn: socket.socket, done, limit: float = 3.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = conn.recv(65536)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
        if done(data):
            break
    return data


# --- SQL Server (TDS 7.4) -----------------------------------------------------------------
PRELOGIN, LOGIN7, SQL_BATCH, TABULAR = 0x12, 0x10, 0x01, 0x04
ENCRYPT_OFF, ENCRYPT_NOT_SUP = 0x00, 0x02


@dataclass(frozen=True)
class ServerError:
    """An error token as SQL Server sends it."""

    number: int
    message: str
    severity: int = 14
    state: int = 1


@dataclass
class Login:
    """What the driver sent in its LOGIN7 packet."""

    user: str
    password: str
    database: str
    server: str
    app: str


@dataclass
class FakeTdsServer:
    host: str = "127.0.0.1"
    login_error: ServerError | None = None
    batch_errors: dict[str, ServerError] = field(default_factory=dict)
    """SQL text fragment -> the error a batch containing it fails with."""
    logins: list[Login] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    prelogins: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind((self.host, 0))
        self._sock.listen(8)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                while True:
                    kind, payload = _read_tds_message(conn)
                    if kind == PRELOGIN:
                        self.prelogins += 1
                        conn.sendall(_tds_packet(TABULAR, _prelogin_response()))
                    elif kind == LOGIN7:
                        self.logins.append(_decode_login7(payload))
                        if self.login_error is not None:
                            conn.sendall(_tds_packet(TABULAR, _error_token(self.login_error) + _done(error=True)))
                            return
                        conn.sendall(_tds_packet(TABULAR, _loginack() + _done()))
                    elif kind == SQL_BATCH:
                        headers_length = struct.unpack("<I", payload[:4])[0]
                        text = payload[headers_length:].decode("utf-16-le")
                        self.batches.append(text)
                        error = next((e for k, e in self.batch_errors.items() if k in text), None)
                        reply = _error_token(error) + _done(error=True) if error else _done()
                        conn.sendall(_tds_packet(TABULAR, reply))
                    else:
                        return
            except (ConnectionError, socket.timeout, struct.error, OSError):
                return


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def _read_tds_message(conn: socket.socket) -> tuple[int, bytes]:
    payload = b""
    while True:
        header = _read_exact(conn, 8)
        kind, status, length = struct.unpack(">BBH", header[:4])
        payload += _read_exact(conn, length - 8)
        if status & 0x01:  # end of message
            return kind, payload


def _tds_packet(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BBHHBB", kind, 0x01, 8 + len(payload), 0, 1, 0) + payload


def _prelogin_response() -> bytes:
    options = [(0x00, bytes([15, 0, 0x07, 0xD0, 0, 0])),  # version 15.0.2000
               (0x01, bytes([ENCRYPT_NOT_SUP])), (0x02, b"\x00"), (0x03, b""), (0x04, b"\x00")]
    offset = len(options) * 5 + 1
    head, data = b"", b""
    for token, value in options:
        head += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return head + b"\xff" + data


def _us_varchar(text: str) -> bytes:
    return struct.pack("<H", len(text)) + text.encode("utf-16-le")


def _b_varchar(text: str) -> bytes:
    return struct.pack("<B", len(text)) + text.encode("utf-16-le")


def _error_token(error: ServerError) -> bytes:
    body = (struct.pack("<iBB", error.number, error.state, error.severity) + _us_varchar(error.message)
            + _b_varchar("fakesql") + _b_varchar("") + struct.pack("<i", 1))
    return b"\xaa" + struct.pack("<H", len(body)) + body


def _loginack() -> bytes:
    body = b"\x01" + bytes([0x74, 0x00, 0x00, 0x04]) + _b_varchar("Microsoft SQL Server") + bytes([15, 0, 7, 208])
    return b"\xad" + struct.pack("<H", len(body)) + body


def _done(error: bool = False) -> bytes:
    return b"\xfd" + struct.pack("<HHQ", 0x0002 if error else 0x0000, 0, 0)


def _decode_login7(payload: bytes) -> Login:
    def field_at(index: int) -> bytes:
        offset, chars = struct.unpack("<HH", payload[36 + 4 * index: 40 + 4 * index])
        return payload[offset: offset + 2 * chars]

    def text(index: int) -> str:
        return field_at(index).decode("utf-16-le")

    # the password is obfuscated: each byte XOR 0xA5, then its nibbles swapped
    raw = bytes(((b ^ 0xA5) << 4 & 0xF0) | ((b ^ 0xA5) >> 4) for b in field_at(2))
    return Login(user=text(1), password=raw.decode("utf-16-le"), database=text(8), server=text(4),
                 app=text(3))


class FakeSqlBrowser:
    """The SQL Server Browser service (SSRP over UDP 1434): answers a named instance's TCP
    port, as drivers ask for it when the server is written `host\\INSTANCE`. Drivers always
    ask on port 1434, so when 127.0.0.1:1434 is taken (another test run) the browser takes the
    next loopback address (127.0.0.2, ...): use `host`."""

    PORT = 1434

    def __init__(self) -> None:
        self.instances: dict[str, int] = {}
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for last in range(1, 64):
            try:
                self._sock.bind((f"127.0.0.{last}", self.PORT))
                break
            except OSError:
                continue
        else:
            raise OSError("no loopback address has UDP port 1434 free")
        self.host = self._sock.getsockname()[0]
        threading.Thread(target=self._serve, daemon=True).start()

    def add(self, instance: str, port: int) -> None:
        self.instances[instance.upper()] = port

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            self.requests.append(data)
            if data[:1] not in (b"\x03", b"\x04"):
                continue
            name = data[1:].split(b"\x00")[0].decode("ascii", "replace").upper()
            port = self.instances.get(name)
            if port is None:
                continue
            text = (f"ServerName;FAKESQL;InstanceName;{name};IsClustered;No;Version;15.0.2000.5;"
                    f"tcp;{port};;").encode("ascii")
            self._sock.sendto(b"\x05" + struct.pack("<H", len(text)) + text, peer)

    def close(self) -> None:
        self._sock.close()
