"""BLOB image fields (photos) sent as base64 text."""

from __future__ import annotations

import binascii
import re

from anju.standard.checks import CheckFailed

__all__ = ["check_image", "sniff_image_type"]

# "data:image/jpeg;base64," and the like; the media type is not trusted, the magic bytes decide.
_RE_DATA_URL = re.compile(r"data:[A-Za-z0-9!#$&^_.+/-]{0,100}(?:;[^,;]{0,100})*;base64,", re.IGNORECASE)
_URLSAFE = str.maketrans("-_", "+/")
_TYPES = "JPEG, PNG, GIF, BMP, WEBP"


def sniff_image_type(data: bytes) -> str | None:
    """The image type from the magic bytes: "jpeg", "png", "gif", "bmp", "webp", or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    return None


def _base64_error() -> CheckFailed:
    return CheckFailed(
        "blob_base64",
        "应为 Base64 编码的图片（可带 data:image/...;base64, 前缀）",
        "should be a base64-encoded image (optionally with a data:image/...;base64, prefix)",
    )


def _too_large_error(max_bytes: int) -> CheckFailed:
    return CheckFailed(
        "blob_too_large",
        f"图片不应超过 {max_bytes} 字节",
        f"the image should not be larger than {max_bytes} bytes",
    )


def check_image(value: str, *, max_bytes: int) -> bytes:
    """Decode a base64 image and check its size and type; return the decoded bytes.

    Standard and URL-safe alphabets, whitespace and line breaks, and missing padding are accepted.  Codes:
    ``blob_base64``, ``blob_too_large`` (checked on the encoded length before decoding) and ``blob_type``
    (not JPEG, PNG, GIF, BMP or WEBP by its magic bytes).
    """
    if value[:5].lower() == "data:":
        m = _RE_DATA_URL.match(value)
        if m is None:
            raise _base64_error()
        value = value[m.end() :]
    # Reject a huge value before doing any work: base64 makes 3 bytes from 4 characters, and anything with
    # more whitespace than content (which would be needed to fit) is not a plausible encoding.
    if len(value) > 2 * (max_bytes * 4 // 3 + 4) + 1024:
        raise _too_large_error(max_bytes)
    if not value.isascii():
        raise _base64_error()
    s = "".join(value.split())  # whitespace and line breaks
    s = s.rstrip("=")
    n = len(s)
    if n * 3 // 4 > max_bytes:
        raise _too_large_error(max_bytes)
    if n % 4 == 1:
        raise _base64_error()
    if "-" in s or "_" in s:
        s = s.translate(_URLSAFE)
    try:
        data = binascii.a2b_base64(s + "=" * (-n % 4), strict_mode=True)
    except binascii.Error:
        raise _base64_error() from None
    if sniff_image_type(data) is None:
        raise CheckFailed(
            "blob_type",
            f"图片格式应为 {_TYPES} 之一",
            f"the image should be one of {_TYPES}",
        )
    return data
