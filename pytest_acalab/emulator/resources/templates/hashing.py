"""ARM's deterministic name functions: ``uniqueString()`` and ``guid()``.

uniqueString: the arguments joined with '-' are UTF-8 encoded and hashed with the 64-bit MurmurHash
variant of Microsoft's ResourceStack library (two 32-bit lanes, seed 0), then the hash is written
most-significant bits first as 13 base-32 characters from ``a-z2-7`` (the 13th character holds the
last 4 bits shifted left by one).

guid: an RFC 4122 version-5 (SHA-1, name-based) UUID of the arguments joined with '-' under the
namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830.
"""

from __future__ import annotations

import uuid

_M32 = 0xFFFFFFFF
_C1 = 0x239B961B
_C2 = 0xAB0E9789
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
ARM_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _M32


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def _mix_k1(k: int) -> int:
    return (_rotl((k * _C1) & _M32, 15) * _C2) & _M32


def _mix_k2(k: int) -> int:
    return (_rotl((k * _C2) & _M32, 17) * _C1) & _M32


def murmur_hash64(data: bytes) -> int:
    """The ResourceStack MurmurHash64 variant (seed 0) as an unsigned 64-bit integer."""
    length = len(data)
    h1 = h2 = 0
    pos = 0
    while pos + 8 <= length:
        h1 ^= _mix_k1(int.from_bytes(data[pos : pos + 4], "little"))
        h1 = (_rotl(h1, 19) + h2) & _M32
        h1 = (h1 * 5 + 0x561CCD1B) & _M32
        h2 ^= _mix_k2(int.from_bytes(data[pos + 4 : pos + 8], "little"))
        h2 = (_rotl(h2, 13) + h1) & _M32
        h2 = (h2 * 5 + 0x0BCAA747) & _M32
        pos += 8
    tail = length - pos
    if tail > 0:
        h1 ^= _mix_k1(int.from_bytes(data[pos : pos + min(tail, 4)], "little"))
        if tail > 4:
            h2 ^= _mix_k2(int.from_bytes(data[pos + 4 : length], "little"))
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    return (h2 << 32) | h1


def unique_string(*values: str) -> str:
    """ARM ``uniqueString(values...)``: 13 characters."""
    if not values:
        raise ValueError("uniqueString needs at least one argument")
    h = murmur_hash64("-".join(values).encode("utf-8"))
    chars = []
    for i in range(13):
        shift = 59 - 5 * i
        chars.append(_ALPHABET[(h >> shift) & 31 if shift >= 0 else (h << -shift) & 31])
    return "".join(chars)


def arm_guid(*values: str) -> str:
    """ARM ``guid(values...)``: lower-case UUID string."""
    if not values:
        raise ValueError("guid needs at least one argument")
    return str(uuid.uuid5(ARM_GUID_NAMESPACE, "-".join(values)))
