"""A local stand-in for Azure Key Vault's key operations, over HTTPS with a CA of its own (the SDK
refuses bearer tokens over plain HTTP), so the real `azure-keyvault-keys` CryptographyClient runs
against it: the challenge authentication flow, its JSON and its local-or-remote crypto choice.

    GET  /keys/{name}[/{version}]?api-version=        the public JWK (RSA), so the SDK may wrap locally
    POST /keys/{name}/{version}/wrapkey|unwrapkey     {"alg": "RSA-OAEP-256", "value": base64url}

A request without `Authorization: Bearer <token>` gets 401 with Key Vault's `WWW-Authenticate`
challenge; an unknown key 404 `KeyNotFound`; bytes that do not unwrap with the key 400
`BadParameter`. Keys are real RSA-2048 keys the fake holds, so another key cannot unwrap.
`ca_file` is the PEM to trust (REQUESTS_CA_BUNDLE); every request is recorded in `requests`."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import shutil
import ssl
import tempfile
import threading
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json

TOKEN = "multicloud-emulator-token"  # what multicloud.clouds.azure.dns.StaticTokenCredential sends
CHALLENGE = ('Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", '
             'resource="https://vault.azure.net"')
_PATH = re.compile(r"^/keys/(?P<name>[^/]+)(?:/(?P<version>[^/]+))?(?:/(?P<op>wrapkey|unwrapkey))?/?$", re.I)
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-keyvault")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "ca.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class FakeKeyVault(LocalServer):
    """In-memory vault keys behind an HTTPS server on 127.0.0.1. `add_key(name)` makes an RSA key and
    returns its URL (`/keys/name/version`); `key_url(name, versioned=False)` the unversioned one."""

    name = "fake-keyvault"

    def __init__(self, port: int = 0):
        self.port = port
        self.requests: list[Recorded] = []
        self._keys: dict[str, tuple[str, rsa.RSAPrivateKey]] = {}
        self._lock = threading.Lock()
        self._folder = Path(tempfile.mkdtemp(prefix="fake-keyvault-"))
        self.ca_file, self._key_file = _self_signed(self._folder)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def add_key(self, name: str) -> str:
        version = uuid.uuid4().hex
        with self._lock:
            self._keys[name.lower()] = (version, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return f"{self.url}/keys/{name}/{version}"

    def key_url(self, name: str) -> str:
        return f"{self.url}/keys/{name}"

    def bind(self):
        if self._server is None:
            super().bind()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, self._key_file)
            # The handshake happens in each request's thread, not in the accepting one.
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        return self

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._folder, ignore_errors=True)

    # ---- answers ---------------------------------------------------------------------------------
    def _key(self, name: str, version: str | None):
        with self._lock:
            found = self._keys.get(name.lower())
        if found is None or (version and version != found[0]):
            return None
        return found

    def _jwk(self, name: str, version: str, key: rsa.RSAPrivateKey) -> dict:
        public = key.public_key().public_numbers()
        return {"key": {"kid": f"{self.url}/keys/{name}/{version}", "kty": "RSA",
                        "key_ops": ["wrapKey", "unwrapKey", "encrypt", "decrypt"],
                        "n": _b64url(_int_bytes(public.n)), "e": _b64url(_int_bytes(public.e))},
                "attributes": {"enabled": True, "created": 1767225600, "updated": 1767225600,
                               "recoveryLevel": "Recoverable+Purgeable", "exportable": False}}

    def answer(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        match = _PATH.match(path)
        if match is None:
            return 404, {"error": {"code": "NotFound", "message": f"no route for {path}"}}
        found = self._key(match["name"], match["version"])
        if found is None:
            return 404, {"error": {"code": "KeyNotFound", "message": f"A key with (name/id) {match['name']} was "
                                                                    "not found in this key vault."}}
        version, key = found
        kid = f"{self.url}/keys/{match['name']}/{version}"
        op = (match["op"] or "").lower()
        if method == "GET" and not op:
            return 200, self._jwk(match["name"], version, key)
        if method != "POST" or not op or not isinstance(body, dict) or body.get("alg") != "RSA-OAEP-256":
            return 400, {"error": {"code": "BadParameter", "message": "unsupported operation or algorithm"}}
        value = _unb64url(str(body.get("value", "")))
        if op == "wrapkey":
            return 200, {"kid": kid, "value": _b64url(key.public_key().encrypt(value, _OAEP))}
        try:
            return 200, {"kid": kid, "value": _b64url(key.decrypt(value, _OAEP))}
        except ValueError:
            return 400, {"error": {"code": "BadParameter", "message": "The parameter is incorrect."}}

    def _handler(self):
        vault = self

        class Handler(QuietHandler):
            def _serve(self):
                path, query, _raw, body = read_request(self)
                auth = self.headers.get("Authorization")
                vault.requests.append(Recorded(self.command, path, query, body if isinstance(body, dict) else None,
                                               auth))
                if auth != f"Bearer {TOKEN}":
                    send_json(self, 401, b"", {"WWW-Authenticate": CHALLENGE})
                    return
                if "api-version" not in query:
                    status, doc = 400, {"error": {"code": "MissingApiVersionParameter", "message": "api-version"}}
                else:
                    status, doc = vault.answer(self.command, path, body)
                send_json(self, status, json.dumps(doc).encode())

            do_GET = do_POST = _serve

        return Handler
