"""Vector tiles of the registry's layers, decoded with mapbox-vector-tile and checked against pyproj's Web Mercator."""

import datetime as dt
import math
import random

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from pyproj import Transformer

from grid.models import Role, Station
from grid.services.territory import station_save
from layers.models import Person
from layers.registry import LAYERS
from layers.services import person_save
from layers.tiles import BUFFER, EXTENT, tile_cacheable, tiles_changed
from tests.factories import StationFactory, UserFactory

MVT = "application/vnd.mapbox-vector-tile"
TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
HALF = 20037508.342789244  # half the Web Mercator world, in metres (pi * 6378137)

# z14 tile over the territory's south-west grid (A-S: 109.90..109.95, 35.15..35.20)
Z, X, Y = 14, 13194, 6480


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(min_x, min_y, max_x, max_y) of a tile in EPSG:3857 metres, by the XYZ scheme's own arithmetic."""
    size = 2 * HALF / 2**z
    return -HALF + x * size, HALF - (y + 1) * size, -HALF + (x + 1) * size, HALF - y * size


def in_tile(lon: float, lat: float, z: int, x: int, y: int) -> bool:
    """Whether a point lies in the tile or its buffer (BUFFER of EXTENT units beyond each edge), by pyproj."""
    min_x, min_y, max_x, max_y = tile_bounds(z, x, y)
    margin = (max_x - min_x) * BUFFER / EXTENT
    mx, my = TO_MERCATOR.transform(lon, lat)
    return min_x - margin <= mx <= max_x + margin and min_y - margin <= my <= max_y + margin


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


def features(response, layer: str) -> list[dict]:
    if response.status_code == 204:
        return []
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == MVT
    return decode(response.content)[layer]["features"]


def url(layer: str, z: int = Z, x: int = X, y: int = Y) -> str:
    return f"/tiles/{layer}/{z}/{x}/{y}.mvt"


@pytest.fixture(autouse=True)
def fresh_tile_versions():
    # Redis outlives each test's rolled-back transaction: start every test from versions no earlier test used.
    for layer in LAYERS.values():
        if tile_cacheable(layer):
            tiles_changed(model=layer.model)


def test_the_test_tile_covers_grid_a_s():
    assert tile_of(109.92, 35.17, Z) == (X, Y)
    assert tile_bounds(0, 0, 0) == (-HALF, -HALF, HALF, HALF)


def test_a_station_tile_holds_exactly_the_stations_inside_the_tile_and_its_buffer(db, api):
    # given 300 stations scattered over a box three tiles wide around the test tile
    rng = random.Random(4)
    min_x, min_y, max_x, max_y = tile_bounds(Z, X, Y)
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    size = max_x - min_x
    stations = [
        StationFactory(
            name=f"驿站{i}",
            kind=rng.choice(list(Station.Kind.values)),
            amenities=["water", "wifi"],
            location=Point(
                *to_lonlat.transform(rng.uniform(min_x - size, max_x + size), rng.uniform(min_y - size, max_y + size)),
                srid=4326,
            ),
        )
        for i in range(300)
    ]
    expected = {s.pk for s in stations if in_tile(s.location.x, s.location.y, Z, X, Y)}
    assert 20 < len(expected) < 150  # inside, buffer and outside are all represented

    # when
    found = features(api.get(url("stations")), "stations")

    # then: the same stations, each at its own place in tile coordinates, with its attributes
    assert {f["id"] for f in found} == expected
    by_id = {s.pk: s for s in stations}
    for feature in found:
        station = by_id[feature["id"]]
        mx, my = TO_MERCATOR.transform(station.location.x, station.location.y)
        col, row = feature["geometry"]["coordinates"]
        assert abs(col - (mx - min_x) / size * EXTENT) <= 1 and abs(row - (max_y - my) / size * EXTENT) <= 1
        props = feature["properties"]
        assert props["id"] == station.pk and props["name"] == station.name and props["kind"] == station.kind
        assert props["amenities"] == "water,wifi"
        assert "opening_hours" not in props and "grid" not in props


def test_empty_tile_is_204(db, api):
    StationFactory(location=Point(109.92, 35.17, srid=4326))
    response = api.get(url("stations", 14, 0, 0))
    assert response.status_code == 204 and response.content == b""


def test_people_tiles_carry_no_personal_value(territory, people):
    # given a person with every personal field filled
    person = person_save(
        person=Person(
            name="张三丰",
            location=Point(109.92, 35.17, srid=4326),
            categories=["registered", "gig_worker", "party_member"],
            gender="male",
            birth_date=dt.date(1990, 1, 1),
            platform="美团外卖",
            work_kind="food_delivery",
        ),
        id_card="610526199001011234",
        phone="13812345678",
    )
    person.refresh_from_db()
    assert person.member_code
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[territory.county], sensitive_clearance=True)

    for layer in ("people", "gig_workers"):
        response = api_get(cleared, url(layer))
        [feature] = features(response, layer)
        # then: the id and coded values only
        assert feature["id"] == person.pk
        assert feature["properties"] == {
            "id": person.pk,
            "gender": "male",
            "categories": "registered,gig_worker,party_member",
            "work_kind": "food_delivery",
            "mobile_member": False,
        }
        # and no personal value anywhere in the bytes, in full or masked
        for value in (
            "张三丰",
            "610526199001011234",
            "610526********1234",
            "**************1234",
            "13812345678",
            "138****5678",
            "*******5678",
            "1990-01-01",
            "1990-1999",
            "美团外卖",
            person.member_code,
        ):
            assert value.encode() not in response.content, value
        assert response["Cache-Control"] == "private, no-store" and not response.has_header("ETag")


def api_get(user, path: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client.get(path)


def test_sensitive_people_need_clearance_and_stay_in_their_area(territory, people):
    # given, in one tile: an ordinary and a sensitive person in community A, and a person in community B
    plain = person_save(person=Person(name="甲", location=Point(109.948, 35.17, srid=4326), categories=["veteran"]))
    hidden = person_save(
        person=Person(name="乙", location=Point(109.947, 35.171, srid=4326), categories=["registered", "released"])
    )
    east = person_save(person=Person(name="丙", location=Point(109.9503, 35.17, srid=4326), categories=["veteran"]))
    assert all(in_tile(p.location.x, p.location.y, 14, 13195, 6480) for p in (plain, hidden, east))
    assert (plain.grid.code, hidden.grid.code, east.grid.code) == ("G-A-S", "G-A-S", "G-B-S")
    cleared_a = UserFactory(role=Role.DISPATCHER, areas=[territory.community_a], sensitive_clearance=True)
    path = url("people", 14, 13195, 6480)

    def ids(user) -> set[int]:
        return {f["id"] for f in features(api_get(user, path), "people")}

    # then
    assert ids(people["dispatcher_a"]) == {plain.pk}
    assert ids(cleared_a) == {plain.pk, hidden.pk}
    assert ids(people["dispatcher_street_b"]) == {east.pk}
    assert ids(people["admin"]) == {plain.pk, east.pk}
    assert api_get(people["resident"], path).status_code == 404
    # the same tile through the GeoJSON endpoint of the same registry layer: the same rows
    geojson = api_get(people["dispatcher_a"], "/api/v1/layers/people/").json()
    assert {f["id"] for f in geojson["features"]} == {plain.pk}


def test_anonymous_gets_public_layers_and_404_for_others(db, api):
    StationFactory(location=Point(109.92, 35.17, srid=4326))
    assert len(features(api.get(url("stations")), "stations")) == 1
    for layer in ("people", "households", "incidents", "no_such_layer"):
        response = api.get(url(layer))
        assert response.status_code == 404, layer
        assert "detail" in response.json()


@pytest.mark.parametrize(
    ("z", "x", "y", "field"),
    [
        ("23", "0", "0", "z"),
        ("-1", "0", "0", "z"),
        ("a", "0", "0", "z"),
        ("14", "16384", "0", "x"),
        ("14", "0", "16384", "y"),
        ("0", "1", "0", "x"),
        ("3", "-2", "1", "x"),
        ("3", "1", "1.5", "y"),
    ],
)
def test_bad_tile_address_is_400_with_a_field_message(db, api, z, x, y, field):
    response = api.get(f"/tiles/stations/{z}/{x}/{y}.mvt", HTTP_ACCEPT=MVT)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json()


def test_public_tiles_are_cached_and_refreshed_when_a_station_is_saved(db, api, django_assert_num_queries):
    first = StationFactory(location=Point(109.92, 35.17, srid=4326))
    response = api.get(url("stations"))
    assert {f["id"] for f in features(response, "stations")} == {first.pk}
    etag = response["ETag"]
    assert response["Cache-Control"].startswith("public")

    # served from the cache: one cheap query (the table's change counters), not the tile's; a 304 for the same ETag
    with django_assert_num_queries(1) as captured:
        again = api.get(url("stations"))
    assert "ST_AsMVT" not in captured.captured_queries[0]["sql"]
    assert again.content == response.content and again["ETag"] == etag
    assert api.get(url("stations"), HTTP_IF_NONE_MATCH=etag).status_code == 304

    # when a station is added through the service
    second = station_save(station=Station(kind=Station.Kind.WORKER_HUB, name="新驿站", location=Point(109.921, 35.171)))

    # then the tile has it, under a new ETag
    fresh = api.get(url("stations"), HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    assert {f["id"] for f in features(fresh, "stations")} == {first.pk, second.pk}

    # and a deletion is seen too
    second.delete()
    assert {f["id"] for f in features(api.get(url("stations")), "stations")} == {first.pk}


def test_organization_polygons_are_clipped_to_the_tile(territory, api):
    from layers.models import Organization

    # a polygon reaching far beyond the tile on every side
    Organization.objects.create(
        code="ORG-1",
        name="大园区",
        kind=Organization.Kind.ENTERPRISE,
        geometry=territory.grids["A-S"].boundary,
        grid=territory.grids["A-S"],
    )
    [feature] = features(api.get(url("organizations")), "organizations")
    assert feature["properties"]["name"] == "大园区"
    xs = [c for ring in feature["geometry"]["coordinates"] for c, _ in _rings(ring)]
    assert min(xs) >= -BUFFER and max(xs) <= EXTENT + BUFFER


def _rings(ring):
    # Polygon → list of rings of [x, y]; MultiPolygon → list of polygons: flatten one level where needed
    return ring if isinstance(ring[0][0], (int, float)) else [p for r in ring for p in r]


@pytest.mark.django_db(transaction=True)
def test_a_write_that_bypasses_the_signals_still_refreshes_the_tile(api):
    # given a cached tile with one station
    station = StationFactory(location=Point(109.92, 35.17, srid=4326))
    assert {f["id"] for f in features(api.get(url("stations")), "stations")} == {station.pk}

    # when it is moved out of the tile by QuerySet.update() (no save, no signal), and PostgreSQL's statistics of
    # this connection reach the shared counters (they do by themselves within seconds; here at once)
    Station.objects.filter(pk=station.pk).update(location=Point(109.99, 35.24, srid=4326))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")

    # then the tile no longer shows it
    assert api.get(url("stations")).status_code == 204
