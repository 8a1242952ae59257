"""Test settings: the project's, with a Redis database of their own so that a worker started by
`make run` never takes (and runs against the wrong database) a task that a test enqueued."""

from project.settings import *  # noqa: F403
from project.settings import env

REDIS_URL = env("TEST_REDIS_URL", default="redis://localhost:6379/15")
CELERY_BROKER_URL = REDIS_URL
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# The real hasher spends ~0.3 s per password by design; tests create many accounts.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Throttles stay on (their tests lower these), far above what the suite sends from one address.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min", "login": "100000/min"},
}
