"""Encryption at rest and exact-match search for sensitive personal fields (ID-card numbers, phones).

Values are encrypted with MultiFernet (AES-128-CBC + HMAC-SHA256): FIELD_ENCRYPTION_KEYS lists
Fernet keys, the first encrypts, all decrypt, so a key is rotated by putting a new one first and
running `manage.py rotate_field_keys`. Search uses a keyed hash (HMAC-SHA256 with FIELD_HASH_KEY)
of the normalised value: equal values match, the hash alone reveals nothing without the key.
"""

import base64
import datetime as dt
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Phones are masked by grid's one policy (grid shows volunteers' phones too); re-exported for the register.
from grid.masks import mask_phone  # noqa: F401
from layers.identifiers import ID_CARD_LENGTH


def _derived_key(label: str) -> bytes:
    # Demo default only: a key derived from SECRET_KEY. Production sets FIELD_ENCRYPTION_KEYS.
    return base64.urlsafe_b64encode(hashlib.sha256(f"{label}:{settings.SECRET_KEY}".encode()).digest())


@cache
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS or [_derived_key("field-encryption").decode()]
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: {exc}") from exc


@cache
def _hash_key() -> bytes:
    return (settings.FIELD_HASH_KEY or _derived_key("field-hash").decode()).encode()


def reset_keys() -> None:
    """Forget cached keys (after settings change, e.g. in a rotation)."""
    _fernet.cache_clear()
    _hash_key.cache_clear()


def normalise(value: str) -> str:
    """The form that is hashed: no spaces or dashes, upper case (the ID card's check digit X)."""
    return "".join(value.split()).replace("-", "").upper()


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("A sensitive field cannot be decrypted with FIELD_ENCRYPTION_KEYS.") from exc


def rotate(token: str) -> str:
    """The same value encrypted with the current (first) key."""
    return _fernet().rotate(token.encode()).decode() if token else ""


def search_hash(value: str) -> str:
    return hmac.new(_hash_key(), normalise(value).encode(), hashlib.sha256).hexdigest() if value else ""


# One masking policy for every identifier: the last four characters, behind a fixed run of stars, so that a mask
# tells neither the region, the birth date nor the length. Four digits of an ID-card number are its sequence and
# check digit; they leave the region and the birth date to guess, and the birth date is never shown beside them
# (see mask_birth_date).
ID_CARD_MASK = "*" * 14


def mask_id_card(value: str) -> str:
    """**************1234: the last four characters of an 18-character number, nothing of a shorter one."""
    value = normalise(value)
    if not value:
        return ""
    return ID_CARD_MASK + (value[-4:] if len(value) == ID_CARD_LENGTH else "****")


def mask_birth_date(value: dt.date | None) -> str:
    """1990-1999: the decade of birth, a band of birth years that never moves.

    An age band computed from today ("30-39") would move on the person's birthday, so anyone who looks every day
    learns the date; a fixed decade leaves some 3,650 dates, about 330 once the check digit is known.
    """
    if not isinstance(value, dt.date):
        return ""
    start = value.year - value.year % 10
    return f"{start}-{start + 9}"


def encrypt_many(values: list[str]) -> list[str]:
    """Many values encrypted with the current key ("" stays "").

    Deliberately the library's Fernet, one token at a time (~13 µs each): a faster hand-built batch of
    the same tokens was measured (~5 µs), but cryptography we assemble ourselves is a liability that a
    second or two per 100,000 rows does not justify.
    """
    fernet = _fernet()
    return [fernet.encrypt(value.encode()).decode() if value else "" for value in values]
