"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), with optional STARTTLS or implicit
TLS (certificates from a throwaway private CA) and AUTH. It keeps every mail it accepts.

aiosmtpd cannot bind port 0 and report the port back, so a free port is picked first."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.services import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()


@dataclass
class Mailbox:
    """The server's handler: records accepted mails; `replies` are answered to DATA first
    (e.g. "451 4.3.0 try again later"), one per attempt, before mails are accepted again."""

    mails: list[Received] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.replies:
            return self.replies.pop(0)
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        self.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                   raw.decode("utf-8", "replace"), message))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.mails if address in m.rcpt_tos]


@dataclass
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(folder: Path) -> Certificates:
    """A private CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ingest test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return paths


@dataclass
class MailServer:
    port: int
    mailbox: Mailbox
    controller: Controller
    security: str
    certificates: Certificates | None = None

    def stop(self) -> None:
        self.controller.stop()


def start_mail_server(security: str = "none", login: tuple[str, str] | None = None,
                      certificates: Certificates | None = None) -> MailServer:
    """security: none (plain), starttls (STARTTLS required) or ssl (implicit TLS). With
    `login`, AUTH is required (over TLS) and only that user and password are accepted."""
    mailbox = Mailbox()
    kwargs: dict = {}
    if security != "none":
        assert certificates is not None, "TLS needs certificates"
        if security == "starttls":
            kwargs.update(tls_context=certificates.server_context(), require_starttls=True)
        else:
            kwargs.update(ssl_context=certificates.server_context())
    if login is not None:
        user, password = login

        def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            if ok:
                mailbox.logins.append(user)
            return AuthResult(success=ok, handled=False)

        # aiosmtpd only counts STARTTLS as TLS for AUTH; with implicit TLS the whole line is encrypted
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=security == "starttls")
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return MailServer(port, mailbox, controller, security, certificates)
