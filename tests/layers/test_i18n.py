"""The layers app (the resource library) speaks Simplified Chinese by default and English on request (its
catalogue: tests/test_catalogues.py)."""

from pathlib import Path

import pytest

import layers

LAYERS_DIR = Path(layers.__file__).resolve().parent
LC_MESSAGES = LAYERS_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"


# --- API -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "language", "titles"),
    [
        (
            {},
            "zh-hans",
            {
                "people": ("人口", "人口"),
                "households": ("住户", "人口"),
                "things": ("城市部件", "城市部件"),
                "party_organizations": ("党组织", "组织"),
            },
        ),
        (
            {"HTTP_ACCEPT_LANGUAGE": "en"},
            "en",
            {
                "people": ("people", "people"),
                "households": ("households", "people"),
                "things": ("things", "things"),
                "party_organizations": ("party organizations", "organizations"),
            },
        ),
    ],
)
def test_the_layer_registry_is_titled_in_the_requested_language(api_as, people, territory, headers, language, titles):
    response = api_as(people["admin"]).get("/api/v1/layers/", **headers)
    assert response.status_code == 200
    assert response["Content-Language"] == language
    legend = {layer["name"]: layer for layer in response.json()}
    assert {name: (legend[name]["title"], legend[name]["group_title"]) for name in titles} == titles


def test_filter_choices_of_the_registry_speak_chinese_by_default(api_as, people, territory):
    legend = {layer["name"]: layer for layer in api_as(people["admin"]).get("/api/v1/layers/").json()}
    kinds = {f["name"]: f for f in legend["gig_workers"]["filters"]}["kind"]["choices"]
    assert {"value": "courier", "title": "快递员"} in kinds
    assert {"value": "food_delivery", "title": "外卖骑手"} in kinds


# --- The catalogue -------------------------------------------------------------------------------------------------
