import pytest


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_healthz_names_the_failing_broker(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["broker"].startswith("error")


def test_openapi_schema_lists_the_geo_endpoints(client, db):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/stations/nearest/",
        "/api/v1/areas/locate/",
        "/api/v1/grids/",
        "/api/v1/areas/",
        "/api/v1/incidents/",
        "/api/v1/incidents/categories/",
        "/api/v1/auth/token/",
    ):
        assert path in paths
    params = {p["name"] for p in paths["/api/v1/stations/nearest/"]["get"]["parameters"]}
    assert {"lon", "lat", "limit", "kind", "amenity", "open_now", "crs"} <= params


def test_api_docs_are_served_without_a_cdn(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


@pytest.mark.parametrize("body, field", [({}, "username"), ({"username": "x", "password": "y"}, "non_field_errors")])
def test_token_login_bad_input(api, db, body, field):
    response = api.post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_token_login_then_token_authenticates(api, db):
    from grid.models import Role
    from tests.factories import UserFactory

    UserFactory(username="phone-user", role=Role.GRID_WORKER)
    token = api.post("/api/v1/auth/token/", {"username": "phone-user", "password": "pw-123456"}, format="json").json()[
        "token"
    ]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/incidents/").status_code == 200
