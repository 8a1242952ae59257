import random

import pytest
import shapely
from django.core.exceptions import ValidationError

from grid.models import Grid
from grid.selectors import grid_containing
from grid.services import grid_save
from tests.factories import box

LOCATE = "/api/v1/areas/locate/"


def owner_by_shapely(grids: list[Grid], lon: float, lat: float) -> str | None:
    """Independent rule: among grids whose closed polygon covers the point, the lowest code."""
    point = shapely.Point(lon, lat)
    codes = sorted(g.code for g in grids if shapely.from_wkt(g.boundary.wkt).covers(point))
    return codes[0] if codes else None


def test_locate_matches_shapely_on_random_points_and_shared_edges(api, territory):
    grids = list(territory.grids.values())
    rng = random.Random(11)
    points = [(rng.uniform(109.89, 110.01), rng.uniform(35.14, 35.26)) for _ in range(60)]
    # points exactly on shared edges, on the shared centre corner and on the outer border
    points += [(109.95, rng.uniform(35.151, 35.249)) for _ in range(6)]
    points += [(rng.uniform(109.901, 109.999), 35.20) for _ in range(6)]
    points += [(109.95, 35.20), (109.90, 35.17), (110.00, 35.25)]
    for lon, lat in points:
        expected = owner_by_shapely(grids, lon, lat)
        response = api.get(LOCATE, {"lon": lon, "lat": lat})
        if expected is None:
            assert response.status_code == 404, (lon, lat)
            assert "detail" in response.json()
        else:
            assert response.status_code == 200, (lon, lat)
            assert response.json()["grid"]["code"] == expected, (lon, lat)


def test_locate_names_grid_community_street_and_county(api, territory):
    body = api.get(LOCATE, {"lon": 109.97, "lat": 35.22}).json()
    assert body["grid"]["code"] == "G-B-N"
    assert body["community"]["code"] == territory.community_b.code
    assert body["street"]["code"] == territory.street_b.code
    assert body["county"]["code"] == territory.county.code


def test_locate_converts_bd09(api, territory):
    from grid.crs import from_wgs84

    lon, lat = from_wgs84(109.9499, 35.17, "bd09")  # 9 m west of the A/B edge in WGS 84; ~1 km off in BD-09
    body = api.get(LOCATE, {"lon": lon, "lat": lat, "crs": "bd09"}).json()
    assert body["grid"]["code"] == "G-A-S"
    assert body["location"]["coordinates"] == pytest.approx([109.9499, 35.17], abs=1e-7)


@pytest.mark.parametrize(
    "query, field",
    [
        ({}, "lon"),
        ({"lon": "x", "lat": 35}, "lon"),
        ({"lon": 109.9, "lat": -91}, "lat"),
        ({"lon": 109.9, "lat": 35.2, "crs": "wgs72"}, "crs"),
    ],
)
def test_locate_bad_input(api, db, query, field):
    response = api.get(LOCATE, query)
    assert response.status_code == 400 and field in response.json()


def test_overlapping_grid_is_refused_naming_the_other_grid(territory):
    intruder = Grid(
        code="G-X", name="越界网格", community=territory.community_a, boundary=box(109.94, 35.18, 109.96, 35.19)
    )
    with pytest.raises(ValidationError) as caught:
        grid_save(grid=intruder)
    assert "G-A-S" in str(caught.value.message_dict["boundary"])
    assert not Grid.objects.filter(code="G-X").exists()


def test_touching_grid_of_the_same_community_and_overlap_across_communities_are_allowed(territory):
    # sharing an edge with A-S is fine; so is overlapping B's grids, which belong to another community
    grid_save(
        grid=Grid(code="G-A-W", name="西", community=territory.community_a, boundary=box(109.89, 35.15, 109.90, 35.20))
    )
    grid_save(
        grid=Grid(code="G-A-E", name="东", community=territory.community_a, boundary=box(110.00, 35.15, 110.01, 35.20))
    )
    assert Grid.objects.filter(code__in=["G-A-W", "G-A-E"]).count() == 2


def test_invalid_boundary_is_refused(territory):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    bowtie = MultiPolygon(
        Polygon(((110.1, 35.1), (110.2, 35.2), (110.2, 35.1), (110.1, 35.2), (110.1, 35.1))), srid=4326
    )
    with pytest.raises(ValidationError) as caught:
        grid_save(grid=Grid(code="G-BOW", name="蝴蝶结", community=territory.community_a, boundary=bowtie))
    assert "boundary" in caught.value.message_dict


def test_grids_in_bbox_include_overlapping(api, territory):
    body = api.get("/api/v1/grids/", {"in_bbox": "109.96,35.16,109.97,35.17"}).json()
    assert [f["properties"]["code"] for f in body["features"]] == ["G-B-S"]
    body = api.get("/api/v1/grids/", {"in_bbox": "109.94,35.19,109.96,35.21"}).json()
    assert sorted(f["properties"]["code"] for f in body["features"]) == ["G-A-N", "G-A-S", "G-B-N", "G-B-S"]
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_grids_bad_bbox_is_a_400(api, territory):
    assert api.get("/api/v1/grids/", {"in_bbox": "1,2,three"}).status_code == 400


def test_areas_by_level(api, territory):
    streets = api.get("/api/v1/areas/", {"level": "street"}).json()["features"]
    assert sorted(f["properties"]["code"] for f in streets) == ["610527001", "610527002"]
    assert all(f["properties"]["parent"] == "610527" for f in streets)
    assert [f["properties"]["code"] for f in api.get("/api/v1/areas/", {"level": 3}).json()["features"]] == ["610527"]
    response = api.get("/api/v1/areas/", {"level": "galaxy"})
    assert response.status_code == 400 and "level" in response.json()


def test_grid_containing_prefers_the_lowest_code_on_a_shared_corner(territory):
    from django.contrib.gis.geos import Point

    assert grid_containing(point=Point(109.95, 35.20, srid=4326)).code == "G-A-N"
