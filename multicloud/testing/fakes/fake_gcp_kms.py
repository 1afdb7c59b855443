"""A local stand-in for the Cloud KMS API (v1 REST), so the real `google-cloud-kms`
KeyManagementServiceClient (REST transport: its URL building, JSON and error mapping) runs against it.

    POST /v1/projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}:encrypt  {plaintext, additionalAuthenticatedData, *Crc32c}
    POST /v1/projects/{p}/locations/{l}/keyRings/{r}/cryptoKeys/{k}:decrypt  {ciphertext, additionalAuthenticatedData, *Crc32c}

Each key is real AES-256-GCM the fake holds (a version prefix, a nonce, the sealed bytes, the AAD
authenticated), so another key or altered bytes fail as Cloud KMS fails them: 400 INVALID_ARGUMENT
"Decryption failed: the ciphertext is invalid."; an unknown key is 404 NOT_FOUND; the CRC32C fields
are checked and answered as the API does (`corrupt_next_answer()` damages one answer's ciphertext
to exercise the client's check). Every request is recorded in `requests`."""

from __future__ import annotations

import base64
import json
import os
import re
import threading

import google_crc32c
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from multicloud.testing.fakes.localserver import LocalServer, QuietHandler, Recorded, read_request, send_json

_PATH = re.compile(r"^/v1/(?P<key>projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/:]+):"
                   r"(?P<op>encrypt|decrypt)$")
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND"}


def _error(status: int, message: str) -> tuple[int, dict]:
    return status, {"error": {"code": status, "message": message, "status": _STATUS[status]}}


def _crc(data: bytes) -> str:
    return str(google_crc32c.value(data))  # int64 fields travel as JSON strings


class FakeCloudKms(LocalServer):
    name = "fake-cloud-kms"

    def __init__(self, port: int = 0):
        self.port = port
        self.requests: list[Recorded] = []
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._corrupt = 0

    def add_key(self, project: str, location: str, ring: str, key: str) -> str:
        """A new key; returns its resource name."""
        name = f"projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{key}"
        with self._lock:
            self._keys[name] = AESGCM.generate_key(bit_length=256)
        return name

    def corrupt_next_answer(self) -> None:
        with self._lock:
            self._corrupt += 1

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        match = _PATH.match(path)
        if match is None:
            return _error(404, f"no route for {path}")
        with self._lock:
            secret = self._keys.get(match["key"])
        if secret is None:
            return _error(404, f"CryptoKey {match['key']} not found.")
        aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
        if "additionalAuthenticatedDataCrc32c" in body and body["additionalAuthenticatedDataCrc32c"] != _crc(aad):
            return _error(400, "The checksum in field additional_authenticated_data_crc32c did not match the data.")
        if match["op"] == "encrypt":
            return self._encrypt(match["key"], secret, base64.b64decode(body.get("plaintext", "")), aad, body)
        return self._decrypt(match["key"], secret, base64.b64decode(body.get("ciphertext", "")), aad, body)

    def _encrypt(self, key: str, secret: bytes, plaintext: bytes, aad: bytes, body: dict) -> tuple[int, dict]:
        if "plaintextCrc32c" in body and body["plaintextCrc32c"] != _crc(plaintext):
            return _error(400, "The checksum in field plaintext_crc32c did not match the data.")
        nonce = os.urandom(12)
        ciphertext = b"\x01" + nonce + AESGCM(secret).encrypt(nonce, plaintext, aad)
        answered = ciphertext
        with self._lock:
            if self._corrupt:
                self._corrupt -= 1
                answered = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
        return 200, {"name": f"{key}/cryptoKeyVersions/1", "ciphertext": base64.b64encode(answered).decode(),
                     "ciphertextCrc32c": _crc(ciphertext), "verifiedPlaintextCrc32c": "plaintextCrc32c" in body,
                     "verifiedAdditionalAuthenticatedDataCrc32c": "additionalAuthenticatedDataCrc32c" in body,
                     "protectionLevel": "SOFTWARE"}

    def _decrypt(self, key: str, secret: bytes, ciphertext: bytes, aad: bytes, body: dict) -> tuple[int, dict]:
        if "ciphertextCrc32c" in body and body["ciphertextCrc32c"] != _crc(ciphertext):
            return _error(400, "The checksum in field ciphertext_crc32c did not match the data.")
        try:
            if ciphertext[:1] != b"\x01":
                raise InvalidTag
            plaintext = AESGCM(secret).decrypt(ciphertext[1:13], ciphertext[13:], aad)
        except (InvalidTag, ValueError):
            return _error(400, "Decryption failed: the ciphertext is invalid.")
        return 200, {"plaintext": base64.b64encode(plaintext).decode(), "plaintextCrc32c": _crc(plaintext),
                     "usedPrimary": True, "protectionLevel": "SOFTWARE"}

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                path, query, _raw, body = read_request(self)
                fake.requests.append(Recorded("POST", path, query, body if isinstance(body, dict) else None,
                                              self.headers.get("Authorization")))
                status, doc = fake.answer(path, body if isinstance(body, dict) else {})
                send_json(self, status, json.dumps(doc).encode())

        return Handler
