"""Secrets of people: password hashes (argon2id, argon2-cffi's defaults) and random tokens kept as digests.

Passwords are low-entropy, so they get a slow, memory-hard KDF. Personal API tokens and session keys are 256
random bits: guessing one is hopeless however fast the hash, so a SHA-256 digest is enough to make a stolen
database useless for logging in, and it lets a request find its token or session by an indexed equality
lookup, with no KDF cost on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "scale_"  # lets secret scanners and people recognise a personal token
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so that answer takes as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _bytes(text: str) -> bytes:
    # Any text a request can carry hashes the same way every time, lone surrogates included.
    return text.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return _hasher.hash(_bytes(password))


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash). A missing hash (no password set) still costs one verification."""
    try:
        _hasher.verify(stored_hash or _dummy_hash(), _bytes(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    if stored_hash is None:
        return False, False
    return True, _hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    """A personal API token: the prefix and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_key() -> str:
    """A session key or CSRF token: 256 random bits, URL- and cookie-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(_bytes(secret)).hexdigest()
