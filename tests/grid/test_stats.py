"""Incident statistics: every figure against values worked out by hand and by Python over the same rows."""

import datetime as dt
import statistics
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.gis.geos import Point
from django.urls import reverse

from grid.models import Category, Incident, Role
from grid.selectors.stats import AreaOutOfScope, incident_stats
from tests.factories import AreaFactory, IncidentFactory, UserFactory, box

S = Incident.Status
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=SHANGHAI)
URL = reverse("incident-stats")
MIN = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
# a point inside each grid of the `territory` fixture
POINTS = {"A-S": (109.92, 35.17), "A-N": (109.92, 35.22), "B-S": (109.97, 35.17), "B-N": (109.97, 35.22)}


def category(code: str, accept: int, resolve: int) -> Category:
    return Category.objects.update_or_create(
        code=code, defaults={"name": code.upper(), "accept_minutes": accept, "resolve_minutes": resolve}
    )[0]


def incident(territory, grid: str, cat: Category, created: dt.datetime, status: str, **fields) -> Incident:
    """An incident in `grid` with its phase set the way the workflow sets it: from creation while awaiting
    acceptance, from acceptance while handled, none once finished."""
    g = territory.grids[grid]
    community = g.community
    phase = None
    if status in (S.REPORTED, S.REOPENED):
        phase, minutes = fields.pop("phase_started", created), cat.accept_minutes
    elif status in (S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS):
        phase, minutes = fields["accepted_at"], cat.resolve_minutes
    timing = {}
    if phase is not None:
        timing = {
            "phase_started": phase,
            "yellow_at": phase + dt.timedelta(minutes=0.75 * minutes),
            "deadline": phase + dt.timedelta(minutes=minutes),
        }
    return IncidentFactory(
        category=cat,
        location=Point(*POINTS[grid], srid=4326),
        created=created,
        status=status,
        grid=g,
        community=community,
        street=community.parent,
        county=community.parent.parent,
        **timing,
        **fields,
    )


@pytest.fixture
def world(territory):
    """Incidents of known timestamps around NOW (2025-06-15 12:00 in Shanghai) in both communities."""
    litter, road = category("litter", 120, 1440), category("road_damage", 240, 10080)
    t = territory
    made = [
        # community A, litter: received 5 (1–4 and 6), closed 2, accepted after 20, 40, 90 min, resolved after
        # 600, 1000, 300 min; one yellow now (6), one red now (5, received before the period)
        incident(t, "A-S", litter, NOW - 10 * DAY, S.CLOSED, accepted_at=NOW - 10 * DAY + 20 * MIN,
                 resolved_at=NOW - 10 * DAY + 600 * MIN, closed_at=NOW - 9 * DAY),
        incident(t, "A-N", litter, NOW - 5 * DAY, S.CLOSED, accepted_at=NOW - 5 * DAY + 40 * MIN,
                 resolved_at=NOW - 5 * DAY + 1000 * MIN, closed_at=NOW - 4 * DAY),
        incident(t, "A-S", litter, NOW - 2 * DAY, S.RESOLVED, accepted_at=NOW - 2 * DAY + 90 * MIN,
                 resolved_at=NOW - 2 * DAY + 300 * MIN),
        incident(t, "A-S", litter, NOW - 60 * MIN, S.REPORTED),  # 60 of 120 minutes: green
        incident(t, "A-N", litter, NOW - 40 * DAY, S.IN_PROGRESS, accepted_at=NOW - 40 * DAY + 30 * MIN),  # red
        incident(t, "A-S", litter, NOW - 100 * MIN, S.REPORTED),  # 100 of 120 minutes: yellow
        # community A, road damage: received 2, none closed, one accepted after 100 min and green
        incident(t, "A-N", road, NOW - 3 * DAY, S.ACCEPTED, accepted_at=NOW - 3 * DAY + 100 * MIN),
        incident(t, "A-N", road, NOW - 20 * DAY, S.REJECTED),
        # community B, litter: received 3 (9, 10 and 11 at the very start of the period), closed 2
        incident(t, "B-S", litter, NOW - 7 * DAY, S.CLOSED, accepted_at=NOW - 7 * DAY + 10 * MIN,
                 resolved_at=NOW - 7 * DAY + 100 * MIN, closed_at=NOW - 6 * DAY),
        incident(t, "B-N", litter, NOW - 6 * DAY, S.CLOSED, accepted_at=NOW - 6 * DAY + 20 * MIN,
                 resolved_at=NOW - 6 * DAY + 200 * MIN, closed_at=NOW - 5 * DAY),
    ]  # fmt: skip
    made.append(incident(t, "B-S", litter, NOW - 30 * DAY, S.DUPLICATE, duplicate_of=made[8]))
    # reported at the very end of the period: not received in it, and green
    made.append(incident(t, "B-N", litter, NOW, S.REPORTED))
    # at the thresholds: yellow from yellow_at on (90 of 120 minutes), red only past the deadline
    made.append(incident(t, "B-S", litter, NOW - 90 * MIN, S.REPORTED))
    made.append(incident(t, "B-S", litter, NOW - 120 * MIN, S.REPORTED))
    # closed, but reported before the period: in no figure
    made.append(
        incident(t, "A-S", road, NOW - 60 * DAY, S.CLOSED, accepted_at=NOW - 60 * DAY + 30 * MIN,
                 resolved_at=NOW - 60 * DAY + 500 * MIN, closed_at=NOW - 59 * DAY)
    )  # fmt: skip
    # reopened 130 minutes ago: its accept phase restarted then, so it is red however old the report
    made.append(
        incident(t, "B-N", road, NOW - 50 * DAY, S.REOPENED, phase_started=NOW - 250 * MIN,
                 accepted_at=NOW - 50 * DAY + 5 * MIN, resolved_at=NOW - 49 * DAY)
    )  # fmt: skip
    return made


def expected(incidents, *, child, start, end, now) -> tuple[dict, dict]:
    """Rows and totals worked out in Python over the model instances: statistics.median and warning_at."""

    def figures(group):
        received = [i for i in group if start <= i.created < end]
        closed = [i for i in received if i.status == S.CLOSED]

        def median(field):
            values = [(getattr(i, field) - i.created).total_seconds() / 60 for i in received if getattr(i, field)]
            return round(statistics.median(values), 2) if values else None

        levels = [i.warning_at(now) for i in group if i.is_open]
        return {
            "received": len(received),
            "closed": len(closed),
            "closure_rate": round(len(closed) / len(received), 3) if received else None,
            "median_minutes_to_accept": median("accepted_at"),
            "median_minutes_to_resolve": median("resolved_at"),
            "yellow": levels.count("yellow"),
            "red": levels.count("red"),
        }

    by_row, by_area = defaultdict(list), defaultdict(list)
    for i in incidents:
        by_row[(child(i), i.category.code)].append(i)
        by_area[child(i)].append(i)
    rows = {key: figures(group) for key, group in by_row.items()}
    empty = {"received": 0, "yellow": 0, "red": 0}
    rows = {key: row for key, row in rows.items() if any(row[k] != v for k, v in empty.items())}
    return rows, {code: figures(group) for code, group in by_area.items()}


def as_dicts(stats) -> tuple[dict, dict]:
    rows = {(r["area"]["code"], r["category"]["code"]): {k: r[k] for k in r if k not in ("area", "category")}
            for r in stats["rows"]}  # fmt: skip
    totals = {t["area"]["code"]: {k: t[k] for k in t if k != "area"} for t in stats["totals"]}
    return rows, totals


@time_machine.travel(NOW, tick=False)
def test_a_county_breaks_down_by_street_and_category_as_worked_out_by_hand(
    api_as, people, territory, world, django_assert_max_num_queries
):
    client = api_as(people["admin"])
    # the token and its account, the account's areas (twice: the area to report on, the scope), the streets,
    # and two aggregates, however many incidents
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    assert response.status_code == 200, response.content
    stats = response.json()
    assert stats["areas"] == [{"code": "610527", "name": "测试县", "level": 3}]
    assert stats["from"] == "2025-05-16T04:00:00Z" and stats["to"] == stats["now"] == "2025-06-15T04:00:00Z"
    rows, totals = as_dicts(stats)
    # by hand
    assert rows[("610527001", "litter")] == {
        "received": 5,
        "closed": 2,
        "closure_rate": 0.4,
        "median_minutes_to_accept": 40.0,  # of 20, 40, 90
        "median_minutes_to_resolve": 600.0,  # of 600, 1000, 300
        "yellow": 1,
        "red": 1,
    }
    assert rows[("610527001", "road_damage")] == {
        "received": 2,
        "closed": 0,
        "closure_rate": 0.0,
        "median_minutes_to_accept": 100.0,
        "median_minutes_to_resolve": None,
        "yellow": 0,
        "red": 0,
    }
    assert rows[("610527002", "litter")] == {
        "received": 5,  # the one reported at the end of the period is not received in it
        "closed": 2,
        "closure_rate": 0.4,
        "median_minutes_to_accept": 15.0,  # between 10 and 20
        "median_minutes_to_resolve": 150.0,
        "yellow": 2,  # both at a threshold
        "red": 0,
    }
    # reported 50 days ago, reopened 250 minutes ago: nothing received, red now
    assert rows[("610527002", "road_damage")]["received"] == 0 and rows[("610527002", "road_damage")]["red"] == 1
    assert totals["610527001"] == {
        "received": 7,
        "closed": 2,
        "closure_rate": 0.286,
        "median_minutes_to_accept": 65.0,  # of 20, 40, 90, 100
        "median_minutes_to_resolve": 600.0,
        "yellow": 1,
        "red": 1,
    }
    # and all of it as Python works it out over the same rows
    start, end = NOW - 30 * DAY, NOW
    want_rows, want_totals = expected(world, child=lambda i: i.street.code, start=start, end=end, now=NOW)
    assert rows == want_rows
    assert totals == want_totals
    # rows in area, then category order; every street has its totals
    assert [(r["area"]["code"], r["category"]["code"]) for r in stats["rows"]] == sorted(want_rows)
    assert [t["area"] for t in stats["totals"]] == [
        {"code": "610527001", "name": "甲街道"},
        {"code": "610527002", "name": "乙镇"},
    ]


@time_machine.travel(NOW, tick=False)
def test_a_community_breaks_down_by_grid_for_its_dispatcher_by_default(api_as, people, territory, world):
    response = api_as(people["dispatcher_a"]).get(URL)
    assert response.status_code == 200, response.content
    stats = response.json()
    assert [a["code"] for a in stats["areas"]] == ["610527001001"]
    rows, totals = as_dicts(stats)
    mine = [i for i in world if i.community_id == territory.community_a.pk]
    want_rows, want_totals = expected(mine, child=lambda i: i.grid.code, start=NOW - 30 * DAY, end=NOW, now=NOW)
    assert rows == want_rows and totals == want_totals
    assert set(totals) == {"G-A-S", "G-A-N"}
    # grid A-S: litter 1, 3, 4, 6 received; 20 and 90 minutes to accept
    assert rows[("G-A-S", "litter")]["received"] == 4 and rows[("G-A-S", "litter")]["median_minutes_to_accept"] == 55.0


@time_machine.travel(NOW, tick=False)
def test_a_street_breaks_down_by_community_over_a_chosen_period(api_as, people, territory, world):
    # from a date (its start, in Shanghai) to a date (its whole day included)
    response = api_as(people["dispatcher_street_b"]).get(
        URL, {"area": "610527002", "from": "2025-05-16", "to": "2025-06-08"}
    )
    assert response.status_code == 200, response.content
    stats = response.json()
    start, end = dt.datetime(2025, 5, 16, tzinfo=SHANGHAI), dt.datetime(2025, 6, 9, tzinfo=SHANGHAI)
    assert (stats["from"], stats["to"]) == ("2025-05-16T00:00:00+08:00", "2025-06-09T00:00:00+08:00")
    rows, totals = as_dicts(stats)
    theirs = [i for i in world if i.street_id == territory.street_b.pk]
    want_rows, want_totals = expected(theirs, child=lambda i: i.community.code, start=start, end=end, now=NOW)
    assert rows == want_rows and totals == want_totals
    # 9 (2025-06-08 12:00) and 11 (2025-05-16 12:00) fall in; 10 (2025-06-09 12:00) falls out
    assert rows[("610527002001", "litter")]["received"] == 2
    # a datetime with its offset, and the end excluded: exactly NOW - 7 days is out, a minute later is in
    until = (NOW - 7 * DAY).isoformat()
    stats = (
        api_as(people["dispatcher_street_b"]).get(URL, {"area": "610527002", "from": "2025-01-01", "to": until}).json()
    )
    assert as_dicts(stats)[0][("610527002001", "litter")]["received"] == 1  # only 11
    stats = (
        api_as(people["dispatcher_street_b"])
        .get(URL, {"area": "610527002", "from": until, "to": (NOW - 7 * DAY + MIN).isoformat()})
        .json()
    )
    assert as_dicts(stats)[0][("610527002001", "litter")]["received"] == 1  # only 9


@time_machine.travel(NOW, tick=False)
def test_a_superuser_gets_every_county_by_default(api_as, territory, world):
    other = AreaFactory(code="610528", name="另一县", level=3, boundary=box(110.0, 35.15, 110.1, 35.25))
    AreaFactory(code="610528001", name="丙街道", level=4, parent=other, boundary=other.boundary)
    root = UserFactory(username="root", role=Role.ADMINISTRATOR, is_superuser=True)
    stats = api_as(root).get(URL).json()
    assert [a["code"] for a in stats["areas"]] == ["610527", "610528"]
    assert [t["area"]["code"] for t in stats["totals"]] == ["610527001", "610527002", "610528001"]
    assert stats["totals"][2] == {
        "area": {"code": "610528001", "name": "丙街道"},
        "received": 0,
        "closed": 0,
        "closure_rate": None,
        "median_minutes_to_accept": None,
        "median_minutes_to_resolve": None,
        "yellow": 0,
        "red": 0,
    }


@time_machine.travel(NOW, tick=False)
def test_only_incidents_in_the_users_scope_count(people, territory, world):
    # a dispatcher of community A counts every incident of A (over a year, all of them) and none of B's
    stats = incident_stats(
        user=people["dispatcher_a"], area=territory.community_a, start=NOW - 365 * DAY, end=NOW + DAY, now=NOW
    )
    assert sum(t["received"] for t in stats["totals"]) == sum(
        1 for i in world if i.community_id == territory.community_a.pk
    )
    # an inactive account sees nothing and is refused
    people["dispatcher_a"].is_active = False
    with pytest.raises(AreaOutOfScope):
        incident_stats(user=people["dispatcher_a"], area=None, start=NOW - DAY, end=NOW, now=NOW)


@pytest.mark.parametrize(
    ("who", "area"),
    [
        ("dispatcher_a", "610527002001"),  # the other community
        ("dispatcher_a", "610527"),  # the county above their community
        ("dispatcher_a", "610527001"),  # their street, above their community
        ("dispatcher_street_b", "610527001001"),  # a community of the other street
        ("worker", "610527001001"),  # grid workers have grids, no areas
        ("resident", "610527"),
    ],
)
def test_an_area_outside_the_scope_is_refused(api_as, people, territory, who, area):
    response = api_as(people[who]).get(URL, {"area": area})
    assert response.status_code == 403
    assert response.json()["detail"]


def test_accounts_without_areas_are_refused_and_anonymous_ones_asked_to_log_in(api, api_as, people):
    assert api_as(people["worker"]).get(URL).status_code == 403
    assert api_as(people["resident"]).get(URL).status_code == 403
    assert api.get(URL).status_code in (401, 403)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-13-01"}, "from"),
        ({"from": "2025-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"to": "2025-06-01T25:00"}, "to"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"from": "2025-06-02", "to": "2025-06-01"}, "from"),  # the start after the end
        ({"from": "2025-06-01T08:00:00+08:00", "to": "2025-06-01T00:00:00Z"}, "from"),  # the same moment
        ({"area": "999999"}, "area"),
        ({"area": "61052700x"}, "area"),
        ({"area": "6105270010010010"}, "area"),
    ],
)
def test_bad_input_is_refused_with_a_field_message(api_as, people, query, field):
    response = api_as(people["admin"]).get(URL, query)
    assert response.status_code == 400
    assert list(response.json()) == [field] and response.json()[field][0]
