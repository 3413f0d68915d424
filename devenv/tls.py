"""Self-signed TLS certificates for the HTTPS stand-ins (simple-salesforce only speaks https)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class CertPair:
    """A certificate (also usable as its own CA bundle) and its private key, on disk."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting this certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


SALESFORCE_NAMES = ("*.my.salesforce.com", "*.sandbox.my.salesforce.com",
                    "login.salesforce.com", "test.salesforce.com")


def make_self_signed(directory: Path, *, name: str = "sfbilling-standin") -> CertPair:
    """Write a fresh certificate for 127.0.0.1 / localhost / ::1 into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    # A subject of its own: two stand-in orgs trusted through one bundle (a sandbox and a
    # production org at once) must not share a name, or TLS finds the wrong one and fails.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, secrets.token_hex(8))])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            # The Salesforce host names a client reaches the stand-in by through its CONNECT
            # proxy (devenv/salesforce/proxy.py): My Domains, and the login hosts.
            *(x509.DNSName(n) for n in SALESFORCE_NAMES),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]), critical=False)
        # CA:TRUE lets clients use this very file as their trust bundle.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=True, key_cert_sign=True, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    pair = CertPair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    pair.key_file.chmod(0o600)
    return pair


def system_ca_file() -> Path | None:
    """The machine's CA bundle (or certifi's), so adding ours does not drop the public roots."""
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if Path(candidate).is_file():
            return Path(candidate)
    try:
        import certifi  # noqa: PLC0415 - optional fallback, only without a system bundle

        return Path(certifi.where())
    except ImportError:
        return None


def combined_bundle(extra: Path, out: Path) -> Path:
    """Write the system roots plus `extra` to `out`: a REQUESTS_CA_BUNDLE that trusts both."""
    system = system_ca_file()
    parts = [system.read_bytes()] if system else []
    parts.append(extra.read_bytes())
    out.write_bytes(b"\n".join(parts))
    return out
