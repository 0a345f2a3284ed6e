"""KeePass AES-KDF computed in C, so a KeePassXC-tuned file opens in seconds, not minutes.

pykeepass runs the AES-KDF rounds as one Python -> C call per round (about 1.5 us each),
so a file KeePassXC tuned to "1 second" (~77M rounds) takes ~100 s. Iterating AES-ECB on
a block is the same as AES-CBC over zero blocks with that block as IV (c1 = E(0 ^ iv),
c2 = E(c1 ^ 0), ...), so the last ciphertext block of CBC over N zero blocks is E^N(iv)
and one C call handles a whole chunk. The 32-byte composite key is two independent blocks;
each runs in its own thread (the C code releases the GIL), as KeePassXC interleaves them.

Two backends: the system libcrypto through ctypes (~16 ns/round here, close to
keepassxc-cli) and pycryptodomex (always present; ~37-57 ns/round). Both are checked against
pykeepass's own loop in the tests.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from Cryptodome.Cipher import AES

_BLOCK = 16
# 64 Ki blocks = 1 MiB per call: few enough calls that Python overhead is noise, small
# enough that the two zero/output buffers stay cheap.
_CHUNK_BLOCKS = 65536

ChainFn = Callable[[bytes, bytes, int], bytes]


@dataclass(frozen=True)
class _Backend:
    name: str
    chain: ChainFn  # (aes-256 key, 16-byte block, rounds) -> block encrypted `rounds` times
    # Cost of one round (both halves, run in parallel), measured with margin on a 2-vCPU
    # VM; used only for the unlock-time estimate, so erring high is the safe side.
    seconds_per_round: float


def _chain_pycryptodome(key: bytes, block: bytes, rounds: int) -> bytes:
    # OFB over zeros is the same E^N chain as CBC over zeros and measured ~35% faster.
    cipher = AES.new(key, AES.MODE_OFB, iv=block)
    zeros = bytes(_BLOCK * min(rounds, _CHUNK_BLOCKS))
    last = block
    remaining = rounds
    while remaining > 0:
        blocks = min(remaining, _CHUNK_BLOCKS)
        out = cipher.encrypt(zeros if blocks * _BLOCK == len(zeros) else zeros[: blocks * _BLOCK])
        last = out[-_BLOCK:]
        remaining -= blocks
    return last


class _LibCrypto:
    """The few EVP calls needed for AES-256-CBC, loaded from the system's OpenSSL 3."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        vp = ctypes.c_void_p
        lib.EVP_CIPHER_CTX_new.restype = vp
        lib.EVP_CIPHER_CTX_new.argtypes = []
        lib.EVP_CIPHER_CTX_free.restype = None
        lib.EVP_CIPHER_CTX_free.argtypes = [vp]
        lib.EVP_aes_256_cbc.restype = vp
        lib.EVP_aes_256_cbc.argtypes = []
        lib.EVP_EncryptInit_ex.restype = ctypes.c_int
        lib.EVP_EncryptInit_ex.argtypes = [vp, vp, vp, ctypes.c_char_p, ctypes.c_char_p]
        lib.EVP_CIPHER_CTX_set_padding.restype = ctypes.c_int
        lib.EVP_CIPHER_CTX_set_padding.argtypes = [vp, ctypes.c_int]
        lib.EVP_EncryptUpdate.restype = ctypes.c_int
        lib.EVP_EncryptUpdate.argtypes = [
            vp,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self._lib = lib

    def chain(self, key: bytes, block: bytes, rounds: int) -> bytes:
        if len(key) != 32 or len(block) != _BLOCK:
            raise ValueError("AES-KDF needs a 32-byte seed and 16-byte blocks")
        lib = self._lib
        ctx = lib.EVP_CIPHER_CTX_new()
        if not ctx:
            raise MemoryError("EVP_CIPHER_CTX_new failed")
        try:
            if lib.EVP_EncryptInit_ex(ctx, lib.EVP_aes_256_cbc(), None, key, block) != 1:
                raise RuntimeError("EVP_EncryptInit_ex failed")
            lib.EVP_CIPHER_CTX_set_padding(ctx, 0)
            zeros = bytes(_BLOCK * min(rounds, _CHUNK_BLOCKS))
            out = ctypes.create_string_buffer(len(zeros) + _BLOCK)
            written = ctypes.c_int(0)
            last = block
            remaining = rounds
            while remaining > 0:
                size = min(remaining, _CHUNK_BLOCKS) * _BLOCK
                if lib.EVP_EncryptUpdate(ctx, out, ctypes.byref(written), zeros, size) != 1:
                    raise RuntimeError("EVP_EncryptUpdate failed")
                if written.value != size:
                    raise RuntimeError("EVP_EncryptUpdate returned a short block count")
                last = out.raw[size - _BLOCK : size]
                remaining -= size // _BLOCK
            return last
        finally:
            lib.EVP_CIPHER_CTX_free(ctx)


def _self_test(chain: ChainFn) -> bool:
    """The backend agrees with plain iterated AES-ECB (guards against a foreign libcrypto)."""
    key = bytes(range(32))
    block = bytes(range(100, 116))
    ecb = AES.new(key, AES.MODE_ECB)
    expected = block
    for _ in range(3):
        expected = ecb.encrypt(expected)
    try:
        return chain(key, block, 3) == expected and chain(key, block, 0) == block
    except Exception:  # noqa: BLE001 - any failure of a foreign library: do not use it
        return False


def _load_libcrypto() -> _Backend | None:
    if os.environ.get("GC_TUI_AESKDF_BACKEND", "") == "pycryptodome":
        return None
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = _LibCrypto(ctypes.CDLL(name))
    except (OSError, AttributeError):
        return None
    if not _self_test(lib.chain):
        return None
    return _Backend("libcrypto", lib.chain, seconds_per_round=25e-9)


PYCRYPTODOME = _Backend("pycryptodome", _chain_pycryptodome, seconds_per_round=60e-9)
LIBCRYPTO: _Backend | None = _load_libcrypto()
BACKEND: _Backend = LIBCRYPTO or PYCRYPTODOME


def _parallel_factor() -> float:
    # Two halves run in two threads; with one CPU they take turns.
    return 1.0 if (os.cpu_count() or 1) >= 2 else 2.0


def estimate_seconds(rounds: int) -> float:
    """Expected AES-KDF time with the backend in use (what the pre-check compares to limits)."""
    return rounds * BACKEND.seconds_per_round * _parallel_factor()


def aes_kdf(
    seed: bytes, rounds: int, composite_key: bytes, *, backend: _Backend | None = None
) -> bytes:
    """KeePass's transformed key: SHA-256 of the composite key AES-256-encrypted `rounds` times."""
    if len(composite_key) != 2 * _BLOCK:
        raise ValueError("the composite key must be 32 bytes")
    if rounds < 0:
        raise ValueError("AES-KDF rounds cannot be negative")
    chain = (backend or BACKEND).chain
    halves = [composite_key[:_BLOCK], composite_key[_BLOCK:]]
    results: list[bytes | None] = [None, None]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = chain(seed, halves[index], rounds)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    helper = threading.Thread(target=run, args=(1,), name="aes-kdf", daemon=True)
    helper.start()
    run(0)
    helper.join()
    if errors:
        raise errors[0]
    first, second = results
    if first is None or second is None:
        raise RuntimeError("AES-KDF thread returned no result")
    return hashlib.sha256(first + second).digest()
