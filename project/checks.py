"""With PRODUCTION on, refuse to run on a missing or publicly known secret.

The field keys protect ID-card numbers, phones and face templates at rest: left empty they derive from
SECRET_KEY, and the demo SECRET_KEY is in this repository, so a database dump would decrypt everything.
"""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks

SECRETS_TAG = "gridline_secrets"

# Values that were ever shipped as a default or an example: in this repository, its compose file, its docs.
KNOWN_DEFAULTS = frozenset(
    {"gridline-local-demo-key-change-me-in-production-0123456789abcdef", "change-me-in-production", "change-me"}
)
MAKE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
MAKE_FERNET_KEY = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
MAKE_HASH_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _known_or_weak(value: str, *, min_length: int) -> str | None:
    if not value:
        return "is not set"
    if value in KNOWN_DEFAULTS or "change-me" in value.lower() or value.startswith("django-insecure"):
        return "is a published default"
    if len(value) < min_length or len(set(value)) < 5:
        return f"is too short (at least {min_length} characters)"
    return None


@checks.register(SECRETS_TAG)
def secrets_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if not settings.PRODUCTION:
        return []
    errors = []
    if problem := _known_or_weak(settings.SECRET_KEY, min_length=50):
        errors.append(checks.Error(f"SECRET_KEY {problem}.", hint=f"Make one: {MAKE_SECRET_KEY}", id="gridline.E001"))

    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        errors.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is not set: field keys would derive from SECRET_KEY.",
                hint=f"Make one: {MAKE_FERNET_KEY}",
                id="gridline.E002",
            )
        )
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS[{index}] is not a Fernet key (32 url-safe base64-encoded bytes).",
                    hint=f"Make one: {MAKE_FERNET_KEY}",
                    id="gridline.E002",
                )
            )
        if key in KNOWN_DEFAULTS:
            errors.append(checks.Error(f"FIELD_ENCRYPTION_KEYS[{index}] is a published default.", id="gridline.E002"))

    hash_key = settings.FIELD_HASH_KEY
    if problem := _known_or_weak(hash_key, min_length=32):
        errors.append(checks.Error(f"FIELD_HASH_KEY {problem}.", hint=f"Make one: {MAKE_HASH_KEY}", id="gridline.E003"))
    elif hash_key == settings.SECRET_KEY or hash_key in keys:
        errors.append(
            checks.Error(
                "FIELD_HASH_KEY is the same as SECRET_KEY or a field encryption key: give it its own.",
                hint=f"Make one: {MAKE_HASH_KEY}",
                id="gridline.E003",
            )
        )
    return errors


def refuse_to_run_on_public_secrets() -> None:
    """For processes that run no system checks of their own (gunicorn, Celery workers)."""
    from django.core.exceptions import ImproperlyConfigured

    errors = [str(error) for error in checks.run_checks(tags=[SECRETS_TAG]) if error.is_serious()]
    if errors:
        raise ImproperlyConfigured("; ".join(errors))
