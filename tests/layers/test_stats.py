"""Figures for dashboards: counts per category, grid and community, and the gig-worker profile."""

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from grid.models import Role
from layers.models import Person
from tests.factories import UserFactory
from tests.layers.helpers import incident, person

SENSITIVE = {"released", "drug_rehab"}


@pytest.fixture
def register(territory):
    return [
        person("甲1", "A-S", ["registered", "party_member", "veteran"]),
        person("甲2", "A-S", ["registered", "gig_worker"], platform="美团", work_kind="food_delivery"),
        person("甲3", "A-N", ["floating", "gig_worker", "party_member"], platform="饿了么", work_kind="food_delivery"),
        person("甲4", "A-N", ["registered", "released"]),
        person("乙1", "B-S", ["registered", "elderly_alone"]),
        person("乙2", "B-N", ["floating", "gig_worker"], platform="顺丰", work_kind="courier"),
        person("乙3", "B-N", ["registered", "drug_rehab", "gig_worker"], platform="美团", work_kind="courier"),
    ]


def groups(body: dict) -> dict[str, int]:
    return {g["key"]: g["count"] for g in body["groups"]}


def expected_categories(people: list[Person], *, cleared: bool) -> Counter:
    visible = [p for p in people if cleared or not SENSITIVE & set(p.categories)]
    return Counter(c for p in visible for c in set(p.categories))


def test_people_by_category_counts_each_person_once_per_category(api_as, people, register):
    response = api_as(people["admin"]).get("/api/v1/layers/people/stats/", {"by": "category"})
    assert response.status_code == 200
    body = response.json()
    assert groups(body) == expected_categories(register, cleared=False)
    assert body["total"] == len([p for p in register if not SENSITIVE & set(p.categories)])
    assert not SENSITIVE & set(groups(body))
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=True)
    body = api_as(cleared).get("/api/v1/layers/people/stats/", {"by": "category"}).json()
    assert groups(body) == expected_categories(register, cleared=True)
    assert body["total"] == len(register)


def test_people_by_grid_and_community_within_the_callers_scope(api_as, people, register):
    visible_a = [p for p in register if p.grid.community.code == "610527001001" and not SENSITIVE & set(p.categories)]
    client = api_as(people["dispatcher_a"])
    by_grid = client.get("/api/v1/layers/people/stats/", {"by": "grid"}).json()
    assert groups(by_grid) == Counter(p.grid.code for p in visible_a)
    by_community = client.get("/api/v1/layers/people/stats/", {"by": "community"}).json()
    assert groups(by_community) == {"610527001001": len(visible_a)}
    assert by_community["groups"][0]["title"] == "甲社区"
    # the street-B dispatcher asking for community A's figures gets nothing of A
    other = (
        api_as(people["dispatcher_street_b"])
        .get("/api/v1/layers/people/stats/", {"by": "grid", "area": "610527001001"})
        .json()
    )
    assert other["total"] == 0 and other["groups"] == []


def test_incidents_by_category_code_and_by_community(api_as, people, territory):
    made = [
        incident("A-S", "litter"),
        incident("A-N", "litter", d=0.001),
        incident("B-S", "road"),
        incident("B-N", "litter"),
    ]
    client = api_as(people["admin"])
    by_category = client.get("/api/v1/layers/incidents/stats/", {"by": "category"}).json()
    assert groups(by_category) == Counter(i.category.code for i in made) and by_category["total"] == 4
    assert {g["key"]: g["title"] for g in by_category["groups"]}["road"] == "类别road"
    by_community = client.get("/api/v1/layers/incidents/stats/", {"by": "community"}).json()
    assert groups(by_community) == Counter(i.community.code for i in made)
    street_b = api_as(people["dispatcher_street_b"]).get("/api/v1/layers/incidents/stats/", {"by": "category"}).json()
    assert groups(street_b) == Counter(i.category.code for i in made if i.street.code == "610527002")


@pytest.mark.parametrize(
    ("layer", "params", "field"),
    [
        ("people", {"by": "colour"}, "by"),
        ("people", {"by": "kind"}, "by"),  # people have categories, not kinds
        ("people", {"area": "nowhere"}, "area"),
        ("incidents", {"by": "grid", "from": "2024-13-01"}, "from"),
    ],
)
def test_bad_stats_queries_are_400s(api_as, people, territory, layer, params, field):
    response = api_as(people["admin"]).get(f"/api/v1/layers/{layer}/stats/", params)
    assert response.status_code == 400 and field in response.json()


def test_stats_are_closed_like_the_layer(api, api_as, people, territory):
    assert api.get("/api/v1/layers/people/stats/").status_code == 401
    assert api_as(people["resident"]).get("/api/v1/layers/people/stats/").status_code == 403
    assert api.get("/api/v1/layers/places/stats/", {"by": "grid"}).status_code == 200
    assert api.get("/api/v1/layers/nothing/stats/").status_code == 404


# --- the gig-worker profile ------------------------------------------------------------------------------------------


def age_on(today: dt.date, born: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for high, label in ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54")):
        if age < high:
            return label
    return "55+"


def years_ago(today: dt.date, years: int, days: int = 0) -> dt.date:
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return day + dt.timedelta(days=days)


def test_gig_worker_profile_by_platform_work_kind_age_band_and_party(api_as, people, territory):
    today = timezone.localdate()
    # birthdays on the edges of the bands: turning 25 today, 35 tomorrow, …
    births = [
        years_ago(today, 20),
        years_ago(today, 25),
        years_ago(today, 35, days=1),
        years_ago(today, 35),
        years_ago(today, 44),
        years_ago(today, 45, days=1),
        years_ago(today, 54),
        years_ago(today, 55),
        years_ago(today, 70),
        None,
    ]
    platforms = ["美团", "美团", "饿了么", "顺丰", "美团", "", "滴滴", "顺丰", "美团", "饿了么"]
    kinds = [
        "food_delivery",
        "food_delivery",
        "food_delivery",
        "courier",
        "courier",
        "ride_hailing",
        "ride_hailing",
        "courier",
        "",
        "food_delivery",
    ]
    made = []
    for i, (born, platform, kind) in enumerate(zip(births, platforms, kinds, strict=True)):
        categories = ["gig_worker"] + (["party_member"] if i % 3 == 0 else [])
        made.append(
            person(
                f"骑手{i}",
                "A-S" if i % 2 else "B-N",
                categories,
                birth_date=born,
                platform=platform,
                work_kind=kind,
                d=i * 1e-4,
            )
        )
    person("非骑手", "A-S", ["registered", "party_member"], birth_date=years_ago(today, 30))
    person("敏感骑手", "A-S", ["gig_worker", "released"], platform="美团", birth_date=years_ago(today, 30))

    response = api_as(people["admin"]).get("/api/v1/layers/gig_workers/profile/")
    assert response.status_code == 200
    body = response.json()
    # without clearance: by decade of birth, the partition the people layer shows, which no birthday moves
    decades = Counter(f"{y // 10 * 10}-{y // 10 * 10 + 9}" for y in (p.birth_date.year for p in made if p.birth_date))
    assert body["by_age_band"] == {**decades, "unknown": sum(p.birth_date is None for p in made)}
    assert list(body["by_age_band"])[:-1] == sorted(decades)
    # with clearance: age bands on today's date (the sensitive rider, 30, counted too)
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[territory.county], sensitive_clearance=True)
    aged = api_as(cleared).get("/api/v1/layers/gig_workers/profile/").json()
    expected_bands = Counter(band(age_on(today, p.birth_date) if p.birth_date else None) for p in made)
    expected_bands["25-34"] += 1
    assert aged["by_age_band"] == {
        label: expected_bands.get(label, 0) for label in ("<25", "25-34", "35-44", "45-54", "55+", "unknown")
    }
    assert body["by_platform"] == Counter(p.platform or "unknown" for p in made)
    assert body["by_work_kind"] == Counter(p.work_kind or "unknown" for p in made)
    assert body["party_members"] == sum("party_member" in p.categories for p in made)
    assert body["total"] == len(made)

    # per area: community A only
    in_a = [p for p in made if p.grid.code.startswith("G-A")]
    area = api_as(people["admin"]).get("/api/v1/layers/gig_workers/profile/", {"area": "610527001001"}).json()
    assert area["total"] == len(in_a)
    assert area["by_platform"] == Counter(p.platform or "unknown" for p in in_a)
    # and the dispatcher of community A, asking for everything, gets just that
    assert api_as(people["dispatcher_a"]).get("/api/v1/layers/gig_workers/profile/").json() == area


def test_gig_worker_profile_bad_input_and_access(api, api_as, people, territory):
    bad = api_as(people["admin"]).get("/api/v1/layers/gig_workers/profile/", {"area": "no-such-area"})
    assert bad.status_code == 400 and "area" in bad.json()
    assert api.get("/api/v1/layers/gig_workers/profile/").status_code == 401
    assert api_as(people["resident"]).get("/api/v1/layers/gig_workers/profile/").status_code == 403


def test_gig_worker_profile_takes_a_fixed_number_of_queries(api_as, people, territory, django_assert_num_queries):
    for i in range(6):
        person(f"骑手{i}", "A-S", ["gig_worker"], platform=f"平台{i % 3}", work_kind="courier", d=i * 1e-4)
    client = api_as(people["dispatcher_a"])
    # token + user, the caller's areas, one aggregate, birth decades (no clearance), platforms, work kinds
    with django_assert_num_queries(6):
        assert client.get("/api/v1/layers/gig_workers/profile/").json()["total"] == 6
