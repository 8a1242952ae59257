"""StationNearestApi answers plain queries without DRF's machinery (see its dispatch()): those answers
must be exactly the ones the full DRF path gives, and anything else must still take that path."""

import random
from unittest import mock

import pytest
from django.contrib.gis.geos import Point

from grid.api.views import StationNearestApi
from grid.models import Station
from tests.factories import StationFactory

URL = "/api/v1/stations/nearest/"
# An Accept header that DRF accepts but the plain path leaves to DRF.
FULL_PATH = {"HTTP_ACCEPT": "application/json, */*"}


@pytest.fixture
def stations(db):
    rng = random.Random(11)
    kinds = Station.Kind.values
    return [
        StationFactory(
            kind=kinds[i % len(kinds)],
            location=Point(109.93 + rng.uniform(-0.05, 0.05), 35.19 + rng.uniform(-0.04, 0.04), srid=4326),
        )
        for i in range(30)
    ]


def answer(response) -> tuple:
    return (
        response.status_code,
        response.content,
        {name: response.get(name) for name in ("Content-Type", "Allow", "Vary", "Content-Language")},
    )


@pytest.mark.parametrize(
    "query",
    [
        {"lon": "109.93", "lat": "35.19"},
        {"lon": "109.93", "lat": "35.19", "limit": "3"},
        {"lon": "109.9", "lat": "35.2", "limit": "50", "kind": "worker_hub"},
        {"lon": "109.935", "lat": "35.187", "crs": "gcj02"},
        {"lon": "109.94", "lat": "35.19", "crs": "bd09", "limit": "05"},
        {"lon": "-180", "lat": "-90", "limit": "1"},
    ],
)
def test_plain_queries_answer_as_the_full_drf_path_does(api, stations, query):
    with mock.patch.object(StationNearestApi, "get", side_effect=AssertionError("took the DRF path")):
        plain = api.get(URL, query)
    full = api.get(URL, query, **FULL_PATH)
    assert plain.status_code == 200
    assert answer(plain) == answer(full)


@pytest.mark.parametrize(
    "query, same_as",
    [
        ({"lon": "+109.93", "lat": "35.19"}, {"lon": "109.93", "lat": "35.19"}),
        ({"lon": "1.0993e2", "lat": "35.19"}, {"lon": "109.93", "lat": "35.19"}),
        ({"lon": " 109.93", "lat": "35.19 "}, {"lon": "109.93", "lat": "35.19"}),
        ({"lon": "109.93", "lat": "35.19", "open_now": "false"}, {"lon": "109.93", "lat": "35.19"}),
        ({"lon": "109.93", "lat": "35.19", "amenity": ""}, {"lon": "109.93", "lat": "35.19"}),
        ({"lon": "109.93", "lat": "35.19", "limit": "5.0"}, {"lon": "109.93", "lat": "35.19"}),
    ],
)
def test_other_spellings_take_the_drf_path_and_answer_alike(api, stations, query, same_as):
    with mock.patch.object(StationNearestApi, "get", autospec=True, side_effect=StationNearestApi.get) as get:
        response = api.get(URL, query)
    assert get.called
    assert answer(response) == answer(api.get(URL, same_as))


@pytest.mark.parametrize(
    "query",
    [
        {"lon": "109.93"},
        {"lon": "109.93", "lat": "95"},
        {"lon": "181", "lat": "35.19"},
        {"lon": "109.93", "lat": "35.19", "limit": "0"},
        {"lon": "109.93", "lat": "35.19", "limit": "51"},
        {"lon": "109.93", "lat": "35.19", "crs": "WGS84"},
        {"lon": "109.93", "lat": "35.19", "kind": "castle"},
    ],
)
def test_bad_plain_looking_queries_get_drfs_400(api, db, query):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert response.json() == api.get(URL, query, **FULL_PATH).json()


def test_repeated_fields_and_other_methods_take_the_drf_path(api, stations):
    assert (
        api.get(URL + "?lon=109.93&lon=109.94&lat=35.19").content == api.get(URL + "?lon=109.94&lat=35.19").content
    )  # DRF reads the last value
    assert api.post(URL, {"lon": "109.93", "lat": "35.19"}).status_code == 405


def test_a_plain_query_is_one_database_query(api, stations, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert api.get(URL, {"lon": "109.93", "lat": "35.19"}).status_code == 200
