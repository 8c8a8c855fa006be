"""Domestic cryptography and the key file: known-answer tests, field encryption, blind indexes, keyring.

The standard vectors are written out here a second time, independently of `anju.security.crypto`, so that
a wrong vector in the module (which its own self-test would happily agree with) fails this test.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from anju.security import crypto
from anju.security.crypto import (
    BlindIndex,
    DecryptionError,
    FieldCipher,
    SelfTestFailed,
    hmac_sm3,
    self_test,
    sm3,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)
from anju.security.keys import KeyFileError, Keyring, load_or_create

# ---- the standards' vectors, copied from the documents ------------------------------------------------
# GB/T 32905-2016 Appendix A: A.1 "abc", A.2 "abcd" repeated 16 times (512 bits).
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
# GB/T 32907-2016 Appendix A.1: key = plaintext = 01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10.
SM4_KEY = "0123456789abcdeffedcba9876543210"
SM4_PLAIN = "0123456789abcdeffedcba9876543210"
SM4_CIPHER = "681edf34d206965e86b3e94f536e4246"
# RFC 8998 Appendix A.1 (SM4-GCM).
GCM_KEY = "0123456789ABCDEFFEDCBA9876543210"
GCM_IV = "00001234567800000000ABCD"
GCM_AAD = "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"
GCM_PLAIN = (
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
GCM_CIPHER = (
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
GCM_TAG = "83DE3541E4C2B58177E065A9BF7B62EC"


def h(hexstr: str) -> bytes:
    return bytes.fromhex(hexstr)


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    return load_or_create(tmp_path / "keys.json")


# ---- known-answer tests -------------------------------------------------------------------------------
def test_self_test_passes() -> None:
    self_test()


@pytest.mark.parametrize(("message", "digest"), [(b"abc", SM3_ABC), (b"abcd" * 16, SM3_ABCD16)])
def test_sm3_gbt_32905_vectors(message: bytes, digest: str) -> None:
    assert sm3(message).hex() == digest
    assert len(sm3(b"")) == 32


def test_sm4_block_gbt_32907_a1() -> None:
    enc = Cipher(algorithms.SM4(h(SM4_KEY)), modes.ECB()).encryptor()
    assert (enc.update(h(SM4_PLAIN)) + enc.finalize()).hex() == SM4_CIPHER
    dec = Cipher(algorithms.SM4(h(SM4_KEY)), modes.ECB()).decryptor()
    assert (dec.update(h(SM4_CIPHER)) + dec.finalize()).hex() == SM4_PLAIN


def test_sm4_gcm_rfc_8998_a1() -> None:
    sealed = sm4_gcm_encrypt(h(GCM_KEY), h(GCM_IV), h(GCM_PLAIN), h(GCM_AAD))
    assert sealed[:-16] == h(GCM_CIPHER)
    assert sealed[-16:] == h(GCM_TAG)
    assert sm4_gcm_decrypt(h(GCM_KEY), h(GCM_IV), h(GCM_CIPHER) + h(GCM_TAG), h(GCM_AAD)) == h(GCM_PLAIN)


def test_sm4_gcm_rejects_a_wrong_tag_or_aad() -> None:
    good = h(GCM_CIPHER) + h(GCM_TAG)
    bad_tag = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(h(GCM_KEY), h(GCM_IV), bad_tag, h(GCM_AAD))
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(h(GCM_KEY), h(GCM_IV), good, h(GCM_AAD) + b"\x00")
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(h(GCM_KEY), h(GCM_IV), good[:10], h(GCM_AAD))


def test_module_vectors_are_the_standards() -> None:
    assert crypto._SM3_VECTORS == ((b"abc", SM3_ABC), (b"abcd" * 16, SM3_ABCD16))
    assert crypto._SM4_KEY.lower() == SM4_KEY
    assert crypto._SM4_BLOCK.lower() == SM4_CIPHER
    expected = {
        "key": GCM_KEY,
        "nonce": GCM_IV,
        "aad": GCM_AAD,
        "plain": GCM_PLAIN,
        "cipher": GCM_CIPHER,
        "tag": GCM_TAG,
    }
    assert {k: v.upper() for k, v in crypto._GCM.items()} == expected


@pytest.mark.parametrize("which", ["sm3", "sm4", "gcm"])
def test_self_test_fails_on_a_wrong_vector(monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    if which == "sm3":
        monkeypatch.setattr(crypto, "_SM3_VECTORS", ((b"abd", SM3_ABC),))
    elif which == "sm4":
        monkeypatch.setattr(crypto, "_SM4_BLOCK", "00" * 16)
    else:
        monkeypatch.setattr(crypto, "_GCM", {**crypto._GCM, "tag": "00" * 16})
    with pytest.raises(SelfTestFailed):
        self_test()


def test_hmac_sm3_is_keyed() -> None:
    assert len(hmac_sm3(b"k" * 32, b"x")) == 32
    assert hmac_sm3(b"k" * 32, b"x") == hmac_sm3(b"k" * 32, b"x")
    assert hmac_sm3(b"k" * 32, b"x") != hmac_sm3(b"j" * 32, b"x")
    assert hmac_sm3(b"k" * 32, b"x") != sm3(b"x")


# ---- field encryption -----------------------------------------------------------------------------------
PLACE = ("rec_access_swipe", "gmsfhm", "rec-1")


def test_text_round_trip_and_no_plaintext(ring: Keyring) -> None:
    cipher = FieldCipher(ring)
    value = "张三 420105199612151552"
    token = cipher.encrypt_text(value, *PLACE)
    assert token.startswith("v1:1:")
    assert "420105199612151552" not in token and "张三" not in token
    assert cipher.decrypt_text(token, *PLACE) == value
    assert cipher.decrypt_text(cipher.encrypt_text("", *PLACE), *PLACE) == ""
    assert FieldCipher.version_of(token) == 1


def test_bytes_round_trip(ring: Keyring) -> None:
    cipher = FieldCipher(ring)
    photo = bytes(range(256)) * 4
    blob = cipher.encrypt_bytes(photo, "rec_access_swipe", "zp", "rec-1")
    assert blob[:1] == b"\x01" and photo not in blob
    assert cipher.decrypt_bytes(blob, "rec_access_swipe", "zp", "rec-1") == photo
    assert FieldCipher.version_of(blob) == 1


@pytest.mark.parametrize(
    "elsewhere",
    [
        ("rec_access_swipe", "yddh", "rec-1"),  # another column
        ("rec_access_swipe", "gmsfhm", "rec-2"),  # another record
        ("rec_vehicle_pass", "gmsfhm", "rec-1"),  # another table
    ],
)
def test_associated_data_binds_table_column_and_record(
    ring: Keyring, elsewhere: tuple[str, str, str]
) -> None:
    cipher = FieldCipher(ring)
    token = cipher.encrypt_text("420105199612151552", *PLACE)
    with pytest.raises(DecryptionError):
        cipher.decrypt_text(token, *elsewhere)
    blob = cipher.encrypt_bytes(b"\xff\xd8photo", *PLACE)
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(blob, *elsewhere)
    # and in its own place it still opens
    assert cipher.decrypt_text(token, *PLACE) == "420105199612151552"


def test_a_flipped_byte_is_refused(ring: Keyring) -> None:
    cipher = FieldCipher(ring)
    token = cipher.encrypt_text("13812345678", *PLACE)
    head, body = token.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    for position in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        forged = f"{head}:{base64.b64encode(bytes(flipped)).decode()}"
        with pytest.raises(DecryptionError):
            cipher.decrypt_text(forged, *PLACE)
    blob = bytearray(cipher.encrypt_bytes(b"photo bytes", *PLACE))
    blob[20] ^= 0x80
    with pytest.raises(DecryptionError):
        cipher.decrypt_bytes(bytes(blob), *PLACE)


@pytest.mark.parametrize("garbage", ["", "plain text", "v2:1:AAAA", "v1:x:AAAA", "v1:1:not base64!", "v1:1:"])
def test_garbage_text_is_a_decryption_error(ring: Keyring, garbage: str) -> None:
    with pytest.raises(DecryptionError):
        FieldCipher(ring).decrypt_text(garbage, *PLACE)


@pytest.mark.parametrize("garbage", [b"", b"\x02" + b"\x00" * 40, b"\x01\x00\x01short"])
def test_garbage_bytes_are_a_decryption_error(ring: Keyring, garbage: bytes) -> None:
    with pytest.raises(DecryptionError):
        FieldCipher(ring).decrypt_bytes(garbage, *PLACE)


def test_encryption_is_randomised(ring: Keyring) -> None:
    cipher = FieldCipher(ring)
    tokens = {cipher.encrypt_text("13812345678", *PLACE) for _ in range(5)}
    assert len(tokens) == 5
    blobs = {cipher.encrypt_bytes(b"same", *PLACE) for _ in range(5)}
    assert len(blobs) == 5
    assert {cipher.decrypt_text(t, *PLACE) for t in tokens} == {"13812345678"}


def test_a_ciphertext_relabelled_with_another_version_is_refused(ring: Keyring) -> None:
    cipher = FieldCipher(ring)
    token = cipher.encrypt_text("13812345678", *PLACE)
    ring.rotate()
    relabelled = token.replace("v1:1:", "v1:2:", 1)
    with pytest.raises(DecryptionError):
        cipher.decrypt_text(relabelled, *PLACE)


# ---- blind indexes ------------------------------------------------------------------------------------
def test_blind_index_normalises_and_separates_kinds(ring: Keyring) -> None:
    index = BlindIndex(ring)
    upper = index("id_number", "11010519491231002X")
    assert upper == index("id_number", "11010519491231002x")
    assert upper == index("id_number", " 110105 19491231002x ")
    assert len(upper) == 32 and all(c in "0123456789abcdef" for c in upper)
    phone = index("phone", "13812345678")
    assert phone == index("phone", "138 1234 5678") == index("phone", "138-1234-5678")
    assert phone != index("phone", "13812345679")
    assert index("plate", "鄂A12345") == index("plate", "鄂a 12345")
    # one value, different kinds: different indexes
    assert index("phone", "13812345678") != index("card", "13812345678")
    assert index("id_number", "110105194912310021") != index("card", "110105194912310021")
    # the index is keyed, not a bare hash of the value
    assert upper not in sm3(b"11010519491231002X").hex()


def test_blind_index_depends_on_the_keyring(tmp_path: Path) -> None:
    one = BlindIndex(load_or_create(tmp_path / "a.json"))
    two = BlindIndex(load_or_create(tmp_path / "b.json"))
    assert one("id_number", "11010519491231002X") != two("id_number", "11010519491231002X")
    again = BlindIndex(load_or_create(tmp_path / "a.json"))
    assert one("id_number", "11010519491231002X") == again("id_number", "11010519491231002X")


# ---- the key file ---------------------------------------------------------------------------------------
def test_created_key_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "keys.json"
    ring = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.current == 1 and len(ring.current_key) == 16
    assert len(ring.index_key) == len(ring.audit_key) == len(ring.signing_key) == 32
    assert len({ring.index_key, ring.audit_key, ring.signing_key}) == 3
    # no temporary files left behind
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]
    reloaded = load_or_create(path)
    assert reloaded.index_key == ring.index_key and reloaded.encryption == ring.encryption


def test_a_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError) as caught:
        load_or_create(path)
    message = str(caught.value)
    assert "chmod 600" in message and str(path) in message and "0644" in message


def _write_0600(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def _valid(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = load_or_create(path).to_json()
    return data


@pytest.mark.parametrize(
    "spoil",
    [
        "not json",
        "truncated",
        "format",
        "index_key_short",
        "index_key_not_b64",
        "encryption_list",
        "current_missing",
        "no_signing_key",
    ],
)
def test_a_malformed_key_file_names_the_file(tmp_path: Path, spoil: str) -> None:
    path = tmp_path / "keys.json"
    data = _valid(path)
    text: str
    if spoil == "not json":
        text = "{this is not json"
    elif spoil == "truncated":
        text = json.dumps(data)[:40]
    else:
        if spoil == "format":
            data["format"] = 99
        elif spoil == "index_key_short":
            data["index_key"] = base64.b64encode(b"short").decode()
        elif spoil == "index_key_not_b64":
            data["index_key"] = "***"
        elif spoil == "encryption_list":
            data["encryption"] = ["AAAA"]
        elif spoil == "current_missing":
            data["current"] = 7  # a version the file does not hold
        elif spoil == "no_signing_key":
            del data["signing_key"]
        text = json.dumps(data)
    _write_0600(path, text)
    with pytest.raises(KeyFileError) as caught:
        load_or_create(path)
    assert str(path) in str(caught.value)


def test_rotate_adds_a_version_and_old_ciphertexts_still_open(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = load_or_create(path)
    cipher = FieldCipher(ring)
    old_text = cipher.encrypt_text("13812345678", *PLACE)
    old_blob = cipher.encrypt_bytes(b"photo", *PLACE)
    assert ring.rotate() == 2
    assert ring.current == 2 and set(ring.encryption) == {1, 2}
    assert ring.encryption[1] != ring.encryption[2]
    new_text = cipher.encrypt_text("13812345678", *PLACE)
    assert FieldCipher.version_of(new_text) == 2
    assert FieldCipher.version_of(cipher.encrypt_bytes(b"photo", *PLACE)) == 2
    assert cipher.decrypt_text(old_text, *PLACE) == "13812345678"
    assert cipher.decrypt_bytes(old_blob, *PLACE) == b"photo"
    assert cipher.decrypt_text(new_text, *PLACE) == "13812345678"
    # saved, still owner-only, and the long-lived keys did not change
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = load_or_create(path)
    assert reloaded.current == 2 and reloaded.encryption == ring.encryption
    assert reloaded.index_key == ring.index_key and reloaded.signing_key == ring.signing_key
    assert FieldCipher(reloaded).decrypt_text(old_text, *PLACE) == "13812345678"


def test_another_keyring_object_picks_up_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    server = load_or_create(path)  # a long-running server
    operator = load_or_create(path)  # `anju keys rotate` in another process
    assert operator.rotate() == 2
    sealed_by_operator = FieldCipher(operator).encrypt_text("鄂A12345", *PLACE)

    # a ciphertext under a version the server has not seen: the key is looked up in the file on demand
    assert server.current == 1 and 2 not in server.encryption
    assert FieldCipher(server).decrypt_text(sealed_by_operator, *PLACE) == "鄂A12345"
    assert server.encryption_key(2) == operator.encryption[2]

    # the periodic check makes a server seal under the newest version
    late = load_or_create(path)
    assert operator.rotate() == 3
    assert late.current == 2
    late.refresh_if_changed(0)
    assert late.current == 3 and late.encryption_key(3) == operator.encryption[3]
    assert FieldCipher.version_of(FieldCipher(late).encrypt_text("x", *PLACE)) == 3

    with pytest.raises(KeyFileError):
        late.encryption_key(99)


def test_refresh_if_changed_is_rate_limited(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    server = load_or_create(path)
    server.refresh_if_changed(0)
    load_or_create(path).rotate()
    server.refresh_if_changed(3600)  # checked a moment ago: not again for an hour
    assert server.current == 1
    server.refresh_if_changed(0)
    assert server.current == 2


def _open_keys(path: str, barrier: Any, out: Any) -> None:
    barrier.wait()
    ring = load_or_create(Path(path))
    out.put((ring.index_key, ring.encryption[1], ring.signing_key))


def test_two_processes_creating_the_key_file_agree(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for attempt in range(4):
        path = tmp_path / f"race{attempt}" / "keys.json"
        path.parent.mkdir()
        barrier = ctx.Barrier(2)
        out = ctx.Queue()
        procs = [ctx.Process(target=_open_keys, args=(str(path), barrier, out)) for _ in range(2)]
        for p in procs:
            p.start()
        results = [out.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0
        assert results[0] == results[1]
        assert load_or_create(path).index_key == results[0][0]
        assert sorted(os.listdir(path.parent)) == ["keys.json"]
