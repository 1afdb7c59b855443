"""restic's encryption: AES-256-CTR with a Poly1305-AES MAC over the ciphertext (IV || CT || MAC),
and the scrypt-wrapped key files that hold a repository's master key."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

from multicloud.engine.restic.errors import CorruptData

OVERHEAD = 32  # IV + MAC
_R_MASK = bytes([0xFF, 0xFF, 0xFF, 0x0F, 0xFC, 0xFF, 0xFF, 0x0F, 0xFC, 0xFF, 0xFF, 0x0F, 0xFC, 0xFF, 0xFF, 0x0F])


class Key:
    """One AES-256 encryption key and one Poly1305-AES MAC key (k, r)."""

    def __init__(self, encrypt: bytes, mac_k: bytes, mac_r: bytes):
        if len(encrypt) != 32 or len(mac_k) != 16 or len(mac_r) != 16:
            raise CorruptData("key material has the wrong length")
        self.encrypt, self.mac_k = encrypt, mac_k
        self.mac_r = bytes(a & b for a, b in zip(mac_r, _R_MASK))
        # Built once: constructing ciphers costs more than sealing a small blob.
        self._aes = algorithms.AES(encrypt)
        self._ecb = threading.local()  # one ECB context per thread, fed block after block

    @classmethod
    def generate(cls) -> "Key":
        return cls(os.urandom(32), os.urandom(16), os.urandom(16))

    def _poly_key(self, iv: bytes) -> bytes:
        ecb = getattr(self._ecb, "context", None)
        if ecb is None:
            ecb = self._ecb.context = Cipher(algorithms.AES(self.mac_k), modes.ECB()).encryptor()
        return self.mac_r + ecb.update(iv)  # ECB is block by block: the context never needs finalize

    def seal(self, plaintext: bytes | bytearray | memoryview) -> bytearray:
        """IV || AES-256-CTR(plaintext) || MAC, built in one buffer (no copy of the ciphertext)."""
        iv = os.urandom(16)
        while iv == bytes(16):  # restic refuses an all-zero nonce
            iv = os.urandom(16)
        n = len(plaintext)
        sealed = bytearray(n + OVERHEAD)  # update_into needs n + 15 bytes of room: the MAC's 16 give it
        sealed[:16] = iv
        view = memoryview(sealed)
        ctr = Cipher(self._aes, modes.CTR(iv)).encryptor()
        ctr.update_into(plaintext, view[16:])
        sealed[16 + n:] = Poly1305.generate_tag(self._poly_key(iv), view[16:16 + n])
        return sealed

    def open(self, sealed: bytes | bytearray | memoryview, what: str = "data") -> bytes:
        """Verify the MAC, then decrypt. Raises CorruptData naming `what`."""
        if len(sealed) < OVERHEAD:
            raise CorruptData("ciphertext is shorter than its IV and MAC", target=what)
        view = memoryview(sealed)
        iv, ciphertext, mac = bytes(view[:16]), view[16:-16], bytes(view[-16:])
        try:
            Poly1305.verify_tag(self._poly_key(iv), ciphertext, mac)
        except InvalidSignature:
            raise CorruptData("MAC does not match (wrong key or damaged data)", target=what) from None
        # CTR's finalize adds nothing: update's own buffer is the plaintext (no zero-filled copy).
        return Cipher(self._aes, modes.CTR(iv)).decryptor().update(ciphertext)

    def to_json(self) -> dict:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return {"mac": {"k": b64(self.mac_k), "r": b64(self.mac_r)}, "encrypt": b64(self.encrypt)}

    @classmethod
    def from_json(cls, doc: dict) -> "Key":
        b64 = base64.b64decode
        return cls(b64(doc["encrypt"]), b64(doc["mac"]["k"]), b64(doc["mac"]["r"]))


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost; restic calibrates N, r, p per host (it chose 32768, 8, 1 here)."""

    n: int = 32768
    r: int = 8
    p: int = 1


def _user_key(password: str, salt: bytes, params: KdfParams) -> Key:
    maxmem = 128 * params.r * (params.n + params.p + 2) + (16 << 20)
    raw = hashlib.scrypt(password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, dklen=64, maxmem=maxmem)
    return Key(raw[:32], raw[32:48], raw[48:])


def make_key_file(master: Key, password: str, params: KdfParams, created: str, username: str, hostname: str) -> bytes:
    """A key file (plaintext JSON) wrapping `master` under `password`."""
    salt = os.urandom(64)
    wrapped = _user_key(password, salt, params).seal(json.dumps(master.to_json()).encode())
    doc = {"created": created, "username": username, "hostname": hostname, "kdf": "scrypt", "N": params.n,
           "r": params.r, "p": params.p, "salt": base64.b64encode(salt).decode(),
           "data": base64.b64encode(wrapped).decode()}
    return json.dumps(doc).encode()


def open_key_file(raw: bytes, password: str, what: str) -> Key | None:
    """The master key in key file `raw`, or None when `password` does not open it.
    Raises CorruptData when the file is not a restic key file."""
    try:
        doc = json.loads(raw)
        if doc.get("kdf") != "scrypt":
            raise CorruptData(f"key file uses kdf {doc.get('kdf')!r}, not scrypt", target=what)
        params = KdfParams(int(doc["N"]), int(doc["r"]), int(doc["p"]))
        salt, data = base64.b64decode(doc["salt"]), base64.b64decode(doc["data"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptData(f"not a restic key file: {exc!r}", target=what) from None
    try:
        plaintext = _user_key(password, salt, params).open(data, what)
    except CorruptData:
        return None
    return Key.from_json(json.loads(plaintext))
