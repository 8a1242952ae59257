"""The nearest-stations search walks the index by sphere distance and ranks by spheroid distance: these
tests put the true nearest station beyond the stations the index hands over first, so that only the
exact fallback of grid.selectors.stations._nearest_sql can find it."""

import pytest
from django.contrib.gis.geos import Point
from pyproj import Geod

from grid.selectors import stations_nearest
from tests.factories import StationFactory

GEOD = Geod(ellps="WGS84")
CENTRE = (109.93, 35.19)
URL = "/api/v1/stations/nearest/"


def at(azimuth: float, metres: float) -> Point:
    lon, lat, _ = GEOD.fwd(*CENTRE, azimuth, metres)
    return Point(lon, lat, srid=4326)


def east_and_north(count: int):
    # At 35°N a metre east is longer on the spheroid than on the sphere, a metre north shorter: the
    # stations ~1,002 m east are ~1,000 m away on the sphere, the one 1,000.6 m north ~1,003 m.
    east = [StationFactory(location=at(90, 1002.0 + 0.01 * i)) for i in range(count)]
    north = StationFactory(location=at(0, 1000.6))
    return east, north


# For limit 1 the search first takes 4 stations from the index, then 32, then reads all within reach:
# with 4 stations east the second step finds the one north, with 40 only the third.
@pytest.mark.parametrize("east_count", [4, 40])
def test_the_nearest_on_the_spheroid_is_found_past_the_stations_nearest_on_the_sphere(api, db, east_count):
    east, north = east_and_north(east_count)
    response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 1})
    assert [f["id"] for f in response.json()["features"]] == [north.pk]
    assert response.json()["features"][0]["properties"]["distance_m"] == pytest.approx(1000.6, abs=0.05)


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_every_limit_gives_the_geodesic_order(db, limit):
    east, north = east_and_north(4)
    found = stations_nearest(point=Point(*CENTRE, srid=4326), limit=limit)
    assert [f["id"] for f in found] == [s.pk for s in [north, *east]][:limit]
    for feature in found:
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["properties"]["distance_m"] == pytest.approx(GEOD.inv(*CENTRE, lon, lat)[2], abs=0.05)


def test_stations_on_the_same_spot_are_ordered_by_id(db):
    same = [StationFactory(location=at(45, 300)) for _ in range(6)]
    found = stations_nearest(point=Point(*CENTRE, srid=4326), limit=4)
    assert [f["id"] for f in found] == sorted(s.pk for s in same)[:4]
