"""How an identifier is shown to an account without clearance: one policy, for every app that shows one."""

PHONE_MASK = "*" * 7


def mask_phone(value: str) -> str:
    """*******5678: the last four digits of a number of at least seven; nothing of a shorter one."""
    digits = "".join(c for c in value if c.isdigit())
    if not digits:
        return ""
    return PHONE_MASK + (digits[-4:] if len(digits) >= 7 else "****")
