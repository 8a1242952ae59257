import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from pyproj import Geod

from grid.crs import from_wgs84
from grid.models import Station
from tests.factories import StationFactory

GEOD = Geod(ellps="WGS84")
URL = "/api/v1/stations/nearest/"
CENTRE = (109.93, 35.19)


def geodesic_m(lon1, lat1, lon2, lat2) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.fixture
def scattered(db):
    """60 stations scattered within ~15 km of the centre, some far north/south where sphere ≠ spheroid."""
    rng = random.Random(7)
    stations = [
        StationFactory(
            location=Point(CENTRE[0] + rng.uniform(-0.15, 0.15), CENTRE[1] + rng.uniform(-0.12, 0.12), srid=4326)
        )
        for _ in range(60)
    ]
    return stations


def test_nearest_match_pyproj_geodesics_in_order_and_within_a_metre(api, scattered):
    # when an anonymous gig worker asks for the 10 nearest
    response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 10})
    # then the order and distances are those of an independent geodesic computation
    assert response.status_code == 200
    features = response.json()["features"]
    expected = sorted(scattered, key=lambda s: geodesic_m(*CENTRE, s.location.x, s.location.y))[:10]
    assert [f["id"] for f in features] == [s.pk for s in expected]
    for feature, station in zip(features, expected, strict=True):
        assert (
            abs(feature["properties"]["distance_m"] - geodesic_m(*CENTRE, station.location.x, station.location.y)) < 1
        )
        assert feature["geometry"]["coordinates"] == pytest.approx([station.location.x, station.location.y], abs=1e-7)


def test_order_is_spheroidal_where_the_sphere_would_swap_two_stations(api, db):
    # Two stations at nearly the same distance, one due north and one due east, at 35°N: on the sphere
    # the east one is nearer, on the WGS 84 spheroid the north one is (meridian arcs are shorter there).
    north = StationFactory(location=Point(109.93, 35.19 + 0.009010, srid=4326))
    east = StationFactory(location=Point(109.93 + 0.010980, 35.19, srid=4326))
    d_north = geodesic_m(*CENTRE, north.location.x, north.location.y)
    d_east = geodesic_m(*CENTRE, east.location.x, east.location.y)
    expected = [north.pk, east.pk] if d_north < d_east else [east.pk, north.pk]
    response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 1})
    assert [f["id"] for f in response.json()["features"]] == expected[:1]


def test_gcj02_query_point_is_converted_before_searching(api, scattered):
    gcj = from_wgs84(*CENTRE, "gcj02")  # ~500 m off: a phone using Amap reports this for the same spot
    plain = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1]}).json()
    shifted = api.get(URL, {"lon": gcj[0], "lat": gcj[1], "crs": "gcj02"}).json()
    assert [f["id"] for f in shifted["features"]] == [f["id"] for f in plain["features"]]
    assert [f["properties"]["distance_m"] for f in shifted["features"]] == pytest.approx(
        [f["properties"]["distance_m"] for f in plain["features"]], abs=0.05
    )


def test_filters_by_kind_and_all_named_amenities(api, db):
    hub = StationFactory(
        kind=Station.Kind.WORKER_HUB, amenities=["water", "charging"], location=Point(109.95, 35.19, srid=4326)
    )
    StationFactory(kind=Station.Kind.WORKER_HUB, amenities=["water"], location=Point(109.931, 35.19, srid=4326))
    StationFactory(
        kind=Station.Kind.COURIER_STATION, amenities=["water", "charging"], location=Point(109.932, 35.19, srid=4326)
    )
    for query in ({"amenity": ["water", "charging"]}, {"amenity": "water,charging"}):
        response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "kind": "worker_hub", **query})
        assert [f["id"] for f in response.json()["features"]] == [hub.pk]


def test_open_now_uses_the_local_week_in_shanghai(api, db, monkeypatch):
    open_late = StationFactory(
        location=Point(109.94, 35.19, srid=4326), opening_hours={"sat": [["08:00", "12:00"], ["20:00", "23:30"]]}
    )
    StationFactory(location=Point(109.931, 35.19, srid=4326), opening_hours={"sat": [["08:00", "20:00"]]})
    StationFactory(location=Point(109.932, 35.19, srid=4326), opening_hours={"fri": [["00:00", "24:00"]]})
    # Saturday 21:15 in Shanghai is 13:15 UTC
    moment = dt.datetime(2026, 11, 21, 21, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment.astimezone(dt.UTC))
    response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "open_now": "true"})
    assert [f["id"] for f in response.json()["features"]] == [open_late.pk]
    assert open_late.is_open_at(moment)


def test_fewer_stations_than_the_limit_and_none_at_all(api, db):
    assert api.get(URL, {"lon": 109.93, "lat": 35.19}).json() == {"type": "FeatureCollection", "features": []}
    StationFactory()
    assert len(api.get(URL, {"lon": 109.93, "lat": 35.19, "limit": 50}).json()["features"]) == 1


@pytest.mark.parametrize(
    "query, field",
    [
        ({"lat": 35.19}, "lon"),
        ({"lon": "east", "lat": 35.19}, "lon"),
        ({"lon": 109.93, "lat": 95}, "lat"),
        ({"lon": 181, "lat": 35.19}, "lon"),
        ({"lon": "nan", "lat": 35.19}, "lon"),
        ({"lon": 109.93, "lat": 35.19, "crs": "epsg3857"}, "crs"),
        ({"lon": 109.93, "lat": 35.19, "limit": 0}, "limit"),
        ({"lon": 109.93, "lat": 35.19, "limit": 500}, "limit"),
        ({"lon": 109.93, "lat": 35.19, "kind": "castle"}, "kind"),
        ({"lon": 109.93, "lat": 35.19, "amenity": "sauna"}, "amenity"),
        ({"lon": 109.93, "lat": 35.19, "open_now": "perhaps"}, "open_now"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, db, query, field):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()
