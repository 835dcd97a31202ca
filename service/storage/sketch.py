"""Distinct patients as HyperLogLog sketches: mergeable per day, about 1.6 % off.

The outcomes report keeps the number of distinct patients exact while a period's cards
are few (service/storage/report.py, EXACT_PATIENTS_LIMIT); above that it merges one
sketch per rolled-up day, topic and service (service/storage/rollup.py) and marks the
figure estimated. 2**12 one-byte registers (standard error 1.04 / 64 = 1.6 %), stored
zlib-compressed (a day's sketch of a few hundred patients is a few hundred bytes).
The patient hash is an HMAC already, but it is hashed again (BLAKE2b, 64 bits) so the
sketch does not depend on how the hash was made.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

PRECISION = 12
REGISTERS = 1 << PRECISION
_LOW_BITS = 64 - PRECISION

Registers = npt.NDArray[np.uint8]


def empty() -> Registers:
    return np.zeros(REGISTERS, dtype=np.uint8)


def add(registers: Registers, patient_hashes: Iterable[str]) -> Registers:
    """``registers`` with the given patients added (in place; returned for chaining)."""
    values = np.fromiter(
        (int.from_bytes(hashlib.blake2b(h.encode(), digest_size=8).digest(), "big")
         for h in patient_hashes),
        dtype=np.uint64,
    )
    if not values.size:
        return registers
    index = (values >> np.uint64(_LOW_BITS)).astype(np.int64)
    rest = values & np.uint64((1 << _LOW_BITS) - 1)
    # rank = position of the first 1 bit in the low 52 bits: 52 - bit_length + 1; frexp's
    # exponent is the bit length exactly (the values fit a double's mantissa).
    _, bit_length = np.frexp(rest.astype(np.float64))
    rank = (_LOW_BITS - bit_length + 1).astype(np.uint8)
    np.maximum.at(registers, index, rank)
    return registers


def merge(registers: Registers, other: Registers) -> Registers:
    np.maximum(registers, other, out=registers)
    return registers


def estimate(registers: Registers) -> int:
    """The estimated number of distinct values (with the small-range correction)."""
    m = float(REGISTERS)
    alpha = 0.7213 / (1 + 1.079 / m)
    raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    zeros = int(np.count_nonzero(registers == 0))
    if raw <= 2.5 * m and zeros:
        return round(m * math.log(m / zeros))
    return round(raw)


def dump(registers: Registers) -> bytes:
    return zlib.compress(registers.tobytes(), 6)


def merge_all(blobs: list[bytes]) -> Registers:
    """The union of stored sketches, in one numpy reduction."""
    if not blobs:
        return empty()
    stacked = np.frombuffer(b"".join(zlib.decompress(blob) for blob in blobs), dtype=np.uint8)
    return np.asarray(stacked.reshape(len(blobs), REGISTERS).max(axis=0), dtype=np.uint8)


def load(blob: bytes) -> Registers:
    return np.frombuffer(zlib.decompress(blob), dtype=np.uint8).copy()
