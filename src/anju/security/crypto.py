"""Domestic cryptography: SM4-GCM field encryption, HMAC-SM3 blind indexes and the start-up self-test.

Ciphertext of a text value is `v1:<key version>:<base64(nonce ‖ ciphertext ‖ tag)>`; of a binary value
(photos) the bytes `b"\\x01" ‖ version (2 bytes, big-endian) ‖ nonce ‖ ciphertext ‖ tag`. The associated
data binds table, column, record key and key version, so a ciphertext moved to another row, column or
version fails authentication instead of decrypting to someone else's data.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import os
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import (
    AEADDecryptionContext,
    AEADEncryptionContext,
    Cipher,
    algorithms,
    modes,
)

from anju.security.keys import Keyring

try:
    # Cipher(...).encryptor() spends more time checking its arguments in Python than the cipher needs
    # to seal a name; the binding it ends in takes the same (already checked) algorithm and mode.
    # The start-up self-test runs through this path, so a library change that broke it stops the
    # platform before anything is sealed.
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    _create_encryption_ctx: Any = _rust_openssl.ciphers.create_encryption_ctx
    _create_decryption_ctx: Any = _rust_openssl.ciphers.create_decryption_ctx
except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
    _create_encryption_ctx = _create_decryption_ctx = None

NONCE_BYTES = 12
TAG_BYTES = 16
TEXT_PREFIX = "v1:"
BINARY_PREFIX = b"\x01"
# 128 bits of HMAC-SM3 are plenty to find a row and keep the index columns small.
BLIND_INDEX_HEX = 32


class DecryptionError(ValueError):
    """A stored ciphertext does not authenticate under its key and associated data."""


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@lru_cache(maxsize=64)
def _keyed_sm3(key: bytes) -> hmac.HMAC:
    return hmac.HMAC(key, hashes.SM3())


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    # A copy of the keyed state skips hashing the key's padded blocks again for every value.
    h = _keyed_sm3(key).copy()
    h.update(data)
    return h.finalize()


def _aad(table: str, column: str, record_key: str, version: int) -> bytes:
    return "\x1f".join((table, column, record_key, str(version))).encode("utf-8")


@lru_cache(maxsize=64)
def _sm4(key: bytes) -> algorithms.SM4:
    return algorithms.SM4(key)


def sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    mode = modes.GCM(nonce)
    enc: AEADEncryptionContext
    if _create_encryption_ctx is not None:
        enc = _create_encryption_ctx(_sm4(key), mode)
    else:  # pragma: no cover
        enc = Cipher(_sm4(key), mode).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < TAG_BYTES:
        raise DecryptionError("ciphertext shorter than its tag")
    mode = modes.GCM(nonce, sealed[-TAG_BYTES:])
    dec: AEADDecryptionContext
    if _create_decryption_ctx is not None:
        dec = _create_decryption_ctx(_sm4(key), mode)
    else:  # pragma: no cover
        dec = Cipher(_sm4(key), mode).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(sealed[:-TAG_BYTES]) + dec.finalize()
    except InvalidTag:
        raise DecryptionError("authentication failed (wrong key, row, column or a tampered value)") from None


class FieldCipher:
    """Encrypts and decrypts single field values under the keyring's versioned SM4 keys."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def encrypt_text(self, value: str, table: str, column: str, record_key: str) -> str:
        version = self.keyring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = sm4_gcm_encrypt(
            self.keyring.encryption_key(version),
            nonce,
            value.encode("utf-8"),
            _aad(table, column, record_key, version),
        )
        return f"{TEXT_PREFIX}{version}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt_text(self, token: str, table: str, column: str, record_key: str) -> str:
        version, raw = self._split_text(token)
        plain = sm4_gcm_decrypt(
            self.keyring.encryption_key(version),
            raw[:NONCE_BYTES],
            raw[NONCE_BYTES:],
            _aad(table, column, record_key, version),
        )
        return plain.decode("utf-8")

    def encrypt_bytes(self, value: bytes, table: str, column: str, record_key: str) -> bytes:
        version = self.keyring.current
        nonce = os.urandom(NONCE_BYTES)
        sealed = sm4_gcm_encrypt(
            self.keyring.encryption_key(version), nonce, value, _aad(table, column, record_key, version)
        )
        return BINARY_PREFIX + version.to_bytes(2, "big") + nonce + sealed

    def decrypt_bytes(self, blob: bytes, table: str, column: str, record_key: str) -> bytes:
        if blob[:1] != BINARY_PREFIX or len(blob) < 3 + NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("not an Anju binary ciphertext")
        version = int.from_bytes(blob[1:3], "big")
        return sm4_gcm_decrypt(
            self.keyring.encryption_key(version),
            blob[3 : 3 + NONCE_BYTES],
            blob[3 + NONCE_BYTES :],
            _aad(table, column, record_key, version),
        )

    @staticmethod
    def version_of(stored: str | bytes) -> int:
        if isinstance(stored, bytes):
            return int.from_bytes(stored[1:3], "big")
        return FieldCipher._split_text(stored)[0]

    @staticmethod
    def _split_text(token: str) -> tuple[int, bytes]:
        try:
            prefix, version, body = token.split(":", 2)
            if prefix + ":" != TEXT_PREFIX:
                raise ValueError(prefix)
            return int(version), base64.b64decode(body, validate=True)
        except ValueError:
            raise DecryptionError("not an Anju text ciphertext") from None


def normalise_for_index(kind: str, value: str) -> str:
    """The form a value is indexed under, so that 11010519491231002x finds 11010519491231002X."""
    text = value.strip()
    if kind == "phone":
        return "".join(ch for ch in text if ch.isdigit())
    if kind in ("id_number", "plate", "card"):
        return "".join(text.split()).replace("·", "").upper()
    return text


class BlindIndex:
    """Keyed HMAC-SM3 of a normalised value: exact search without storing the value.

    A bare hash would not do: the space of ID numbers (≈10^11) is small enough to enumerate.
    """

    def __init__(self, keyring: Keyring) -> None:
        self._key = keyring.index_key

    def __call__(self, kind: str, value: str) -> str:
        data = f"{kind}\x1f{normalise_for_index(kind, value)}".encode()
        return hmac_sm3(self._key, data).hex()[:BLIND_INDEX_HEX]


# Known-answer vectors: SM3 from GB/T 32905-2016 Appendix A; SM4 (one block) from GB/T 32907-2016
# Appendix A.1; SM4-GCM from RFC 8998 Appendix A.1.
_SM3_VECTORS = (
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
)
_SM4_KEY = "0123456789abcdeffedcba9876543210"
_SM4_BLOCK = "681edf34d206965e86b3e94f536e4246"
_GCM = {
    "key": "0123456789ABCDEFFEDCBA9876543210",
    "nonce": "00001234567800000000ABCD",
    "aad": "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
    "plain": "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    "cipher": "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
    "tag": "83DE3541E4C2B58177E065A9BF7B62EC",
}


class SelfTestFailed(RuntimeError):
    """The cryptographic library does not reproduce a standard test vector; nothing may be encrypted."""


def self_test() -> None:
    """Check SM3, SM4 and SM4-GCM against their standard vectors; raises SelfTestFailed."""
    for message, digest in _SM3_VECTORS:
        if sm3(message).hex() != digest:
            raise SelfTestFailed(f"SM3 known-answer test failed for a {len(message)}-byte message")
    key = bytes.fromhex(_SM4_KEY)
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    if (enc.update(key) + enc.finalize()).hex() != _SM4_BLOCK:
        raise SelfTestFailed("SM4 block known-answer test failed (GB/T 32907 A.1)")
    v = {name: bytes.fromhex(value) for name, value in _GCM.items()}
    sealed = sm4_gcm_encrypt(v["key"], v["nonce"], v["plain"], v["aad"])
    if not std_hmac.compare_digest(sealed, v["cipher"] + v["tag"]):
        raise SelfTestFailed("SM4-GCM known-answer test failed (RFC 8998 A.1)")
    if sm4_gcm_decrypt(v["key"], v["nonce"], sealed, v["aad"]) != v["plain"]:
        raise SelfTestFailed("SM4-GCM decryption of the RFC 8998 vector failed")
