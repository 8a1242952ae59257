import math

import pytest
from pyproj import Geod

from grid.crs import CRS, from_wgs84, to_wgs84

GEOD = Geod(ellps="WGS84")


def metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


# Published conversions by the map vendors themselves:
# - Amap web service "coordinate/convert" documentation example: GPS → GCJ-02.
# - Alibaba Cloud address purification "TransferCoord" documentation example: one point in all three.
AMAP_WGS84, AMAP_GCJ02 = (116.481499, 39.990475), (116.487585177952, 39.991754014757)
ALIYUN = {"wgs84": (120.021519, 30.281543), "gcj02": (120.026268, 30.279164), "bd09": (120.032768, 30.285238)}


def test_amap_reference_pair_within_5_metres():
    assert metres_apart(from_wgs84(*AMAP_WGS84, CRS.GCJ02), AMAP_GCJ02) < 5
    assert metres_apart(to_wgs84(*AMAP_GCJ02, CRS.GCJ02), AMAP_WGS84) < 5


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_alibaba_reference_triple_within_5_metres(crs):
    assert metres_apart(from_wgs84(*ALIYUN["wgs84"], crs), ALIYUN[crs]) < 5
    assert metres_apart(to_wgs84(*ALIYUN[crs], crs), ALIYUN["wgs84"]) < 5


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trip_is_exact_to_a_centimetre_across_china(crs):
    for lon in (75.5, 90.0, 109.93, 121.47, 135.0):
        for lat in (18.3, 30.0, 35.19, 45.8, 53.0):
            back = to_wgs84(*from_wgs84(lon, lat, crs), crs)
            assert metres_apart(back, (lon, lat)) < 0.01


def test_offset_is_hundreds_of_metres_in_china_and_none_abroad():
    shift = metres_apart(from_wgs84(109.93, 35.19, "gcj02"), (109.93, 35.19))
    assert 100 < shift < 1000
    assert from_wgs84(2.35, 48.85, "gcj02") == (2.35, 48.85)  # Paris: GCJ-02 is WGS 84 outside China


def test_wgs84_is_identity_and_unknown_crs_is_refused():
    assert to_wgs84(109.93, 35.19, "wgs84") == (109.93, 35.19)
    with pytest.raises(ValueError):
        to_wgs84(109.93, 35.19, "epsg:3857")
    assert not math.isnan(to_wgs84(0.0, 0.0, "bd09")[0])
