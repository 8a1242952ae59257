"""The structure of the register's identifiers: resident ID-card numbers (GB 11643-1999), unified social credit
codes (GB 32100-2015) and the organization codes inside them (GB 11714-1997).

An ID-card number is 18 characters: a 6-digit region, the birth date as YYYYMMDD (characters 7 to 14), a
3-digit sequence (odd for men, even for women) and a check character. A credit code is 18 characters: the
registering authority, the category, a 6-digit region, the 9-character organization code (8 characters and
their check) and a check character. Validation of cells, masking and the demo's made-up numbers all read them here.
"""

import datetime as dt
import re

ID_CARD_LENGTH = 18
ID_CARD_RE = re.compile(r"^[1-9]\d{16}[\dX]$")
_ID_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_ID_CHECK = "10X98765432"

CREDIT_CODE_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_CREDIT_WEIGHTS = tuple(3**i % 31 for i in range(17))  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def id_card_check(value: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11]


def id_card_birth_date(value: str) -> dt.date:
    """The birth date an ID-card number holds; ValueError when it holds none."""
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_card_is_male(value: str) -> bool:
    """The sequence's parity: odd for men, even for women."""
    return int(value[16]) % 2 == 1


def credit_code_check(value: str) -> str:
    """The GB 32100-2015 check character of a unified social credit code's first 17 characters."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(value[:17], _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def org_code_check(body: str) -> str:
    """The GB 11714-1997 check character of an organization code's first 8 characters (digits)."""
    check = 11 - sum(int(c) * w for c, w in zip(body, _ORG_CODE_WEIGHTS, strict=True)) % 11
    return "X" if check == 10 else str(check % 11)
