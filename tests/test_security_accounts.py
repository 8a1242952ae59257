"""Abuse limits on accounts: throttles, login lockouts, expiring and revocable tokens, password rules."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from grid.models import Role, User
from tests.factories import UserFactory

TOKEN = "/api/v1/auth/token/"
LOCATE = "/api/v1/areas/locate/"
INCIDENTS = "/api/v1/incidents/"
PASSWORD = "pw-123456"  # the factories' password


def rates(**scopes):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes},
        }
    )


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()  # throttle histories live in the cache, and outlive a test's database transaction
    yield
    cache.clear()


# --- throttles ------------------------------------------------------------------------------------------------------


def test_anonymous_callers_are_throttled_per_address_with_retry_after(territory):
    with rates(anon="3/min"):
        client = APIClient()
        answers = [client.get(LOCATE, {"lon": 109.93, "lat": 35.17}) for _ in range(4)]
        other_address = client.get(LOCATE, {"lon": 109.93, "lat": 35.17}, REMOTE_ADDR="10.9.9.9")
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused["Content-Type"] == "application/json" and "detail" in refused.json()
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other_address.status_code == 200


def test_the_fast_path_of_nearest_stations_is_throttled_too(db):
    with rates(anon="2/min"):
        client = APIClient()
        codes = [
            client.get("/api/v1/stations/nearest/", {"lon": "109.93", "lat": "35.17"}).status_code for _ in range(3)
        ]
    assert codes == [200, 200, 429]


def test_throttles_let_requests_through_when_the_cache_is_down(territory):
    down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with rates(anon="1/min"), override_settings(CACHES=down):
        codes = [APIClient().get(LOCATE, {"lon": 109.93, "lat": 35.17}).status_code for _ in range(2)]
    assert codes == [200, 200]


def test_a_forged_forwarded_for_header_does_not_escape_the_address_throttle(territory):
    with rates(anon="2/min"):
        client = APIClient()
        codes = [
            client.get(LOCATE, {"lon": 109.93, "lat": 35.17}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
            for i in range(3)
        ]
    assert codes == [200, 200, 429]


def test_signed_in_callers_are_throttled_per_account(api_as, people):
    with rates(user="2/min"):
        first = api_as(people["dispatcher_a"])
        codes = [first.get(INCIDENTS).status_code for _ in range(3)]
        other = api_as(people["dispatcher_street_b"]).get(INCIDENTS)  # same address, another account
    assert codes == [200, 200, 429]
    assert other.status_code == 200


# --- login lockout ----------------------------------------------------------------------------------------------------


def _token(username, password, address="127.0.0.1"):
    return APIClient().post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_token_logins_lock_out_the_account_and_the_address_then_cool_off(db):
    UserFactory(username="phone-a", role=Role.GRID_WORKER)
    UserFactory(username="phone-b", role=Role.GRID_WORKER)
    failures = [_token("phone-a", "wrong-guess", "10.0.0.1").status_code for _ in range(3)]
    assert failures == [400, 400, 429]

    right = _token("phone-a", PASSWORD, "10.0.0.1")  # the right password does not get through a lockout
    assert right.status_code == 429
    assert int(right["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert "detail" in right.json()
    assert _token("phone-a", PASSWORD, "10.0.0.2").status_code == 429  # the account, from anywhere
    assert _token("phone-b", PASSWORD, "10.0.0.1").status_code == 429  # the address, for any account
    assert _token("phone-b", PASSWORD, "10.0.0.2").status_code == 200  # neither

    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=5), tick=False):
        assert _token("phone-a", PASSWORD, "10.0.0.1").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_login_page_and_the_admin_lock_out_with_a_page(db):
    UserFactory(username="console-user", role=Role.DISPATCHER, is_staff=True)
    browser = Client()
    codes = [
        browser.post("/accounts/login/", {"username": "console-user", "password": "nope-nope"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]  # the form again with an error, then the lockout page
    locked = browser.post("/accounts/login/", {"username": "console-user", "password": PASSWORD})
    assert locked.status_code == 429 and locked["Content-Type"].startswith("text/html")
    assert int(locked["Retry-After"]) > 0
    admin = browser.post("/admin/login/", {"username": "console-user", "password": PASSWORD})
    assert admin.status_code == 429
    assert "_auth_user_id" not in browser.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_admin_failures_count_towards_the_same_lockout(db):
    UserFactory(username="staff-user", role=Role.ADMINISTRATOR, is_staff=True)
    for _ in range(3):
        Client().post("/admin/login/", {"username": "staff-user", "password": "nope-nope"}, REMOTE_ADDR="10.1.1.1")
    assert _token("staff-user", PASSWORD, "10.1.1.2").status_code == 429


# --- tokens expire and can be revoked -----------------------------------------------------------------------------


def test_a_token_expires_after_its_ttl_and_a_new_login_issues_a_fresh_one(db):
    UserFactory(username="phone-user", role=Role.GRID_WORKER)
    issued_at = timezone.now()
    with time_machine.travel(issued_at, tick=False):
        body = _token("phone-user", PASSWORD).json()
    assert body["expires"].startswith((issued_at + timedelta(hours=settings.TOKEN_TTL_HOURS)).isoformat()[:16])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")

    ttl = timedelta(hours=settings.TOKEN_TTL_HOURS)
    with time_machine.travel(issued_at + ttl - timedelta(minutes=1), tick=False):
        assert client.get(INCIDENTS).status_code == 200
    with time_machine.travel(issued_at + ttl + timedelta(minutes=1), tick=False):
        assert client.get(INCIDENTS).status_code == 401
        fresh = _token("phone-user", PASSWORD).json()["token"]
        assert fresh != body["token"]
        client.credentials(HTTP_AUTHORIZATION=f"Token {fresh}")
        assert client.get(INCIDENTS).status_code == 200


def test_delete_revokes_the_callers_token(api_as, people):
    client = api_as(people["dispatcher_a"])
    other = api_as(people["dispatcher_street_b"])
    assert client.delete(TOKEN).status_code == 204
    assert client.get(INCIDENTS).status_code == 401
    assert other.get(INCIDENTS).status_code == 200  # only the caller's
    assert APIClient().delete(TOKEN).status_code == 401


def test_a_password_change_revokes_the_accounts_tokens(api_as, people):
    user = people["worker"]
    client = api_as(user)
    assert client.get(INCIDENTS).status_code == 200
    user.set_password("a-much-better-passphrase")
    user.save()
    assert client.get(INCIDENTS).status_code == 401
    assert not Token.objects.filter(user=user).exists()


def test_token_requests_are_throttled_per_address_across_accounts(db):
    with rates(login="3/min"):
        empty = APIClient().post(TOKEN, {}, format="json")
        codes = [_token(f"nobody-{i}", "x").status_code for i in range(3)]  # a spread over many accounts
    assert empty.status_code == 400 and "username" in empty.json()
    assert codes == [400, 400, 429]


# --- password rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["short-1", "1234567890123", "password1234", "dispatcher-chengguan"],
    ids=["too-short", "numeric", "common", "like-the-username"],
)
def test_weak_passwords_are_refused(db, password):
    user = User(username="dispatcher-chengguan", role=Role.DISPATCHER)
    with pytest.raises(ValidationError):
        validate_password(password, user=user)


def test_the_demo_password_meets_the_rules(db):
    validate_password(settings.DEMO_PASSWORD, user=User(username="admin", role=Role.ADMINISTRATOR))
