"""GET /api/v1/layers/organizations/nearest/: the public organizations nearest to a point, by geodesic distance."""

import dataclasses
import itertools
import math
import random

import pytest
from django.contrib.gis.geos import Point, Polygon
from pyproj import Geod

from grid.crs import from_wgs84
from layers.models import Organization, PersonCategory
from layers.registry import LAYERS, Sensitivity
from tests.factories import UserFactory
from tests.layers.helpers import person

GEOD = Geod(ellps="WGS84")
URL = "/api/v1/layers/organizations/nearest/"
CENTRE = (109.93, 35.19)
Kind = Organization.Kind
_codes = itertools.count(1)


def geodesic_m(lon1, lat1, lon2, lat2) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def organization(kind: str, geometry, **fields) -> Organization:
    n = next(_codes)
    return Organization.objects.create(
        code=f"ORG{n:05d}", name=fields.pop("name", f"组织{n}"), kind=kind, geometry=geometry, **fields
    )


def at(lon: float, lat: float) -> Point:
    return Point(lon, lat, srid=4326)


def rectangle(west: float, south: float, east: float, north: float) -> Polygon:
    return Polygon(((west, south), (east, south), (east, north), (west, north), (west, south)), srid=4326)


def meridian_distance_m(lon: float, lat: float, meridian: float, south: float, north: float) -> float:
    """The shortest geodesic from (lon, lat) to the meridian segment, by golden-section search along it
    (a meridian is a geodesic, so this segment is exactly the polygon's edge on the spheroid)."""
    a, b = south, north
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if geodesic_m(lon, lat, meridian, c) < geodesic_m(lon, lat, meridian, d):
            b = d
        else:
            a = c
    return geodesic_m(lon, lat, meridian, (a + b) / 2)


@pytest.fixture
def scattered(db):
    """40 point organizations of every kind within ~15 km of the centre."""
    rng = random.Random(11)
    kinds = list(Kind.values)
    return [
        organization(
            kinds[i % len(kinds)],
            at(CENTRE[0] + rng.uniform(-0.15, 0.15), CENTRE[1] + rng.uniform(-0.12, 0.12)),
            address=f"澄城县某路{i}号",
            phone=f"0913-600{i:04d}",
        )
        for i in range(40)
    ]


def test_points_are_ranked_by_pyproj_geodesics_within_half_a_metre(api, scattered):
    # when an anonymous gig worker asks for the 12 nearest
    response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 12})
    # then order and distances are those of an independent geodesic computation
    assert response.status_code == 200
    features = response.json()["features"]
    expected = sorted(scattered, key=lambda o: geodesic_m(*CENTRE, *o.geometry.coords))[:12]
    assert [f["id"] for f in features] == [o.pk for o in expected]
    for feature, org in zip(features, expected, strict=True):
        assert abs(feature["properties"]["distance_m"] - geodesic_m(*CENTRE, *org.geometry.coords)) < 0.5
        assert feature["geometry"] == {
            "type": "Point",
            "coordinates": pytest.approx(list(org.geometry.coords), abs=1e-6),
        }


def test_a_polygon_is_as_far_as_its_nearest_boundary_point_and_zero_around_the_point(api, db):
    lon, lat = CENTRE
    # a compound whose south-west corner is the nearest point (the centre lies south-west of it, off both edges)
    corner = organization(Kind.ENTERPRISE, rectangle(lon + 0.004, lat + 0.003, lon + 0.02, lat + 0.02))
    # a compound due west, whose east edge (a meridian) passes the centre's latitude
    west_edge = lon - 0.006
    west = organization(Kind.ASSOCIATION, rectangle(lon - 0.03, lat - 0.01, west_edge, lat + 0.01))
    # a party committee's territory that contains the centre
    around = organization(Kind.PARTY_COMMITTEE, rectangle(lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001))
    far_point = organization(Kind.BRANCH, at(lon + 0.05, lat))

    features = api.get(URL, {"lon": lon, "lat": lat, "limit": 10}).json()["features"]

    expected = {
        around.pk: 0.0,
        corner.pk: geodesic_m(lon, lat, lon + 0.004, lat + 0.003),
        west.pk: meridian_distance_m(lon, lat, west_edge, lat - 0.01, lat + 0.01),
        far_point.pk: geodesic_m(lon, lat, lon + 0.05, lat),
    }
    assert [f["id"] for f in features] == sorted(expected, key=expected.get)
    for feature in features:
        assert abs(feature["properties"]["distance_m"] - expected[feature["id"]]) < 0.5
    assert next(f for f in features if f["id"] == west.pk)["geometry"]["type"] == "Polygon"


def test_kind_filter_takes_repeated_or_comma_separated_kinds(api, scattered):
    party = {Kind.PARTY_COMMITTEE, Kind.GENERAL_BRANCH, Kind.BRANCH}
    expected = sorted((o for o in scattered if o.kind in party), key=lambda o: geodesic_m(*CENTRE, *o.geometry.coords))
    for kinds in (sorted(party), ",".join(sorted(party))):
        response = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 50, "kind": kinds})
        assert response.status_code == 200
        assert [f["id"] for f in response.json()["features"]] == [o.pk for o in expected]
    only = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 50, "kind": "branch"}).json()["features"]
    assert {f["properties"]["kind"] for f in only} == {"branch"}
    assert len(only) == sum(o.kind == Kind.BRANCH for o in scattered)


def test_gcj02_point_is_converted_before_ranking(api, scattered):
    gcj = from_wgs84(*CENTRE, "gcj02")
    plain = api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1]}).json()["features"]
    shifted = api.get(URL, {"lon": gcj[0], "lat": gcj[1], "crs": "gcj02"}).json()["features"]
    assert [f["id"] for f in shifted] == [f["id"] for f in plain]
    assert [f["properties"]["distance_m"] for f in shifted] == pytest.approx(
        [f["properties"]["distance_m"] for f in plain], abs=0.05
    )


def test_anonymous_and_signed_in_callers_get_the_same_public_answer(api, api_as, scattered):
    query = {"lon": CENTRE[0], "lat": CENTRE[1], "limit": 5}
    anonymous = api.get(URL, query)
    signed_in = api_as(UserFactory(username="someone")).get(URL, query)
    assert anonymous.status_code == signed_in.status_code == 200
    assert anonymous.json() == signed_in.json()
    assert len(anonymous.json()["features"]) == 5


def test_only_public_fields_and_no_personal_data_leave(api, territory):
    # given an organization, one without a place, and people with phones living right beside the point
    lon, lat = 109.92, 35.17  # inside grid A-S, where helpers.person puts people
    branch = organization(
        Kind.BRANCH,
        at(lon + 0.001, lat),
        name="甲社区第一支部委员会",
        address="甲街道幸福路1号",
        phone="0913-6000001",
        parent=organization(Kind.GENERAL_BRANCH, at(lon + 0.002, lat)),
        grid=territory.grids["A-S"],
    )
    organization(Kind.ASSOCIATION, None, name="没有位置的协会")
    person("张三", "A-S", [PersonCategory.PARTY_MEMBER], phone="13800138000", id_card="610527199001011234")

    response = api.get(URL, {"lon": lon, "lat": lat, "limit": 50})

    assert response.status_code == 200
    features = response.json()["features"]
    assert [f["id"] for f in features] == [branch.pk, branch.parent_id]
    assert features[0]["properties"] == {
        "id": branch.pk,
        "name": "甲社区第一支部委员会",
        "kind": "branch",
        "address": "甲街道幸福路1号",
        "phone": "0913-6000001",
        "distance_m": pytest.approx(round(geodesic_m(lon, lat, lon + 0.001, lat), 1), abs=0.1),
    }
    text = response.content.decode()
    for secret in ("张三", "13800138000", "610527199001011234", branch.code, "G-A-S", "没有位置的协会"):
        assert secret not in text


def test_the_endpoint_serves_only_the_public_registry_layer(api, scattered, monkeypatch):
    # when the registry's organizations layer stops being public, the endpoint stops answering
    closed = dataclasses.replace(LAYERS["organizations"], sensitivity=Sensitivity.INTERNAL)
    monkeypatch.setitem(LAYERS, "organizations", closed)
    assert api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1]}).status_code == 404


def test_the_search_is_one_query(api, scattered, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert api.get(URL, {"lon": CENTRE[0], "lat": CENTRE[1], "kind": "branch,association"}).status_code == 200


def test_no_organizations_is_an_empty_collection(api, db):
    assert api.get(URL, {"lon": 109.93, "lat": 35.19}).json() == {"type": "FeatureCollection", "features": []}


@pytest.mark.parametrize(
    "query, field",
    [
        ({"lat": 35.19}, "lon"),
        ({"lon": 109.93}, "lat"),
        ({"lon": "east", "lat": 35.19}, "lon"),
        ({"lon": 109.93, "lat": 95}, "lat"),
        ({"lon": 181, "lat": 35.19}, "lon"),
        ({"lon": "inf", "lat": 35.19}, "lon"),
        ({"lon": 109.93, "lat": "nan"}, "lat"),
        ({"lon": 109.93, "lat": 35.19, "crs": "epsg3857"}, "crs"),
        ({"lon": 109.93, "lat": 35.19, "limit": 0}, "limit"),
        ({"lon": 109.93, "lat": 35.19, "limit": 51}, "limit"),
        ({"lon": 109.93, "lat": 35.19, "limit": "many"}, "limit"),
        ({"lon": 109.93, "lat": 35.19, "kind": "castle"}, "kind"),
        ({"lon": 109.93, "lat": 35.19, "kind": "branch,castle"}, "kind"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, db, query, field):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert field in response.json()
