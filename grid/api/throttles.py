"""DRF throttles whose rates are read from settings on each request, not once at import.

DRF's own classes copy DEFAULT_THROTTLE_RATES when they are imported, so a changed setting (tests, a
reloaded configuration) would never reach them.
"""

import logging

from django.core.exceptions import ImproperlyConfigured
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _RateFromSettings:
    scope: str

    def allow_request(self, request, view):
        # Fail open: the cache (Redis) being down must not take the whole API down with it.
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("throttle %s not applied: the cache is unreachable (%s)", self.scope, type(exc).__name__)
            return True

    def get_rate(self):
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(f"No DEFAULT_THROTTLE_RATES for scope {self.scope!r}.") from exc


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Anonymous callers, per address."""


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Signed-in callers per account (anonymous ones per address)."""


class LoginThrottle(_RateFromSettings, SimpleRateThrottle):
    """Token requests per address, whatever the account: guessing across many accounts is slowed too."""

    scope = "login"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
