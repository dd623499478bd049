"""
TLS in the test bed: a trust store of this test run, and a certificate authority
of its own for certificates handed to the formula through the pillar.

Every HTTPS client of the tests verifies what it talks to: ``requests`` reads the
trust store from ``REQUESTS_CA_BUNDLE``, ``urllib`` and ``ssl`` from
``SSL_CERT_FILE``; both name :data:`BUNDLE`, set by ``tests/conftest.py``. A
server becomes trusted when a test adds its self-signed certificate
(:func:`trust_host`) or the authority that signed it (:func:`trust`). Only the
load generator skips verification (it counts answers, see ``load.py``).
"""

import datetime
import ipaddress
import os
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BUNDLE = os.path.join(tempfile.gettempdir(), f"webstack-test-trust-{os.getpid()}.pem")


def use_bundle():
    """Start this run's trust store (empty) and point the clients at it."""
    with open(BUNDLE, "w", encoding="ascii"):
        pass
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"] = BUNDLE


def trust(pem):
    """Add certificates (PEM) to the trust store."""
    with open(BUNDLE, "a", encoding="ascii") as fh:
        fh.write(pem if pem.endswith("\n") else pem + "\n")


def trust_host(host, name="webapp"):
    """Trust the certificate that ``host`` serves (``/etc/webstack/tls/<name>.crt``); return it."""
    _, pem = host.exec(["cat", f"/etc/webstack/tls/{name}.crt"])
    trust(pem)
    return pem


def _pem(obj):
    return obj.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class Authority:
    """A certificate authority of this test run (ECDSA P-256, valid for a day)."""

    def __init__(self, name="webstack test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = _pem(self.cert)

    def issue(self, names):
        """A server certificate for ``names`` (host names or IP addresses): (certificate PEM, key PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return _pem(cert), _key_pem(key)
