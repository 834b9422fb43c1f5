"""Console passwords: scrypt (RFC 7914, from ``cryptography``), generated one-time passwords.

Stored form: ``scrypt$N$r$p$SALT$KEY`` with SALT (16 random bytes) and KEY (32 bytes) in
URL-safe base64 without padding. N = 2**15, r = 8, p = 1 (32 MiB and about 0.1-0.5 s per
check: slow enough for offline guessing, and logins are throttled besides). The
parameters travel with each hash, so a later release can raise them.
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from prai.errors import AdminUserError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
KEY_BYTES = 32
MIN_LENGTH = 12
MAX_LENGTH = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """The stored form of ``password`` (a fresh salt each call)."""
    salt = os.urandom(16)
    key = Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(password.encode())
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the derived key).

    A malformed or truncated ``stored`` value, or one with parameters outside N 2**14-2**20,
    r 1-16, p 1-4, never matches.
    """
    try:
        scheme, n_text, r_text, p_text, salt_text, key_text = stored.split("$")
        n, r, p, salt, key = int(n_text), int(r_text), int(p_text), _unb64(salt_text), _unb64(key_text)
        # a whole key of the expected size (a truncated one would compare a prefix) and
        # parameters in a sane range (no memory blow-up from a damaged row)
        if scheme != "scrypt" or len(key) != KEY_BYTES or len(salt) < 16 or not 2**14 <= n <= 2**20 \
                or n & (n - 1) or not 1 <= r <= 16 or not 1 <= p <= 4:
            return False
        Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).verify(password.encode(), key)
    except (ValueError, InvalidKey):
        return False
    return True


#: verified against when the user does not exist, so that an unknown name costs the
#: same time as a wrong password (no user enumeration by timing)
DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43


def generate_password() -> str:
    """A one-time password: 20 characters from 120 random bits, easy to type (no ``-_``)."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))


def check_new_password(password: str, *, username: str) -> None:
    """Refuse passwords that are too short or too long, or that contain the user name.

    Raises:
        AdminUserError: with what to change.
    """
    if len(password) < MIN_LENGTH:
        raise AdminUserError(
            f"the password has {len(password)} characters; at least {MIN_LENGTH} are needed",
            hint="use a passphrase of several words, or let `prai admin create-user` generate one",
        )
    if len(password) > MAX_LENGTH:
        raise AdminUserError(f"the password is longer than {MAX_LENGTH} characters")
    if username and username.lower() in password.lower():
        raise AdminUserError("the password contains the user name", hint="choose one that does not")


__all__ = ["DUMMY_HASH", "check_new_password", "generate_password", "hash_password", "verify_password"]
