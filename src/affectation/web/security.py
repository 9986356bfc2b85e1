"""Passwords, session tokens and CSRF tokens: the web application's secrets, in one place.

- Passwords are hashed with argon2id (argon2-cffi's defaults: the parameters and the salt are
  in the stored string). A login with an unknown account still verifies a hash, so that the
  answer takes as long as for a known one (no way to tell which accounts exist).
- A session is a random 256-bit token in an HttpOnly, SameSite=Lax cookie; the store keeps
  only its HMAC-SHA256 keyed by the server's secret, so a copy of the database opens no
  session.
- Every form carries the session's CSRF token (htmx sends it in the `X-CSRF-Token` header);
  the login form, before any session, carries a token equal to a cookie of its own (double
  submit). Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_COOKIE = "affectation_session"
LOGIN_CSRF_COOKIE = "affectation_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD = 10


@cache
def hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: an unknown account, verified against a dummy
    hash all the same, and False)."""
    try:
        ok = hasher().verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(ok) and stored is not None


def password_problem(password: str) -> str | None:
    """Why a new password is refused (French), or None."""
    if len(password) < MIN_PASSWORD:
        return f"un mot de passe d'au moins {MIN_PASSWORD} caractères"
    if password.strip() != password:
        return "un mot de passe sans espace au début ni à la fin"
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str, secret: str = "") -> str:
    """What the store keeps of a session token: HMAC-SHA256 keyed by the server's secret, so
    that neither a copy of the database nor the secret alone opens a session."""
    return hmac.new(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (False when either is missing or empty)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
