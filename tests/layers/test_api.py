"""The layer endpoints: legend, GeoJSON per layer, unmasked reads and the audit log, per role and clearance."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.utils import timezone

from grid.models import Role
from layers.models import AuditEntry, Organization, Person, Place
from layers.services import audit_record
from tests.factories import StationFactory, UserFactory
from tests.layers.helpers import incident, person

ID_CARD = "610526199001011234"
PHONE = "13812345678"
BIRTH = dt.date(1990, 1, 1)


@pytest.fixture
def register(territory):
    """People in both communities (one in a sensitive category), places, a station and incidents."""
    rows = {
        "zhang": person(
            "张三",
            "A-S",
            ["registered", "party_member"],
            id_card=ID_CARD,
            phone=PHONE,
            gender="male",
            birth_date=BIRTH,
        ),
        "li": person("李四", "A-N", ["floating", "gig_worker"], platform="美团", work_kind="food_delivery"),
        "released": person("王五", "A-S", ["registered", "released"], d=0.001),
        "zhao": person("赵六", "B-S", ["registered", "veteran"], id_card="610527198502029876"),
        "qian": person("钱七", "B-N", ["gig_worker"], platform="顺丰", work_kind="courier"),
        "place_a": Place.objects.create(
            code="P-A",
            name="甲饭店",
            kind=Place.Kind.DINING,
            location=Point(109.9212345678, 35.1712345678, srid=4326),
            grid=territory.grids["A-S"],
        ),
        "place_b": Place.objects.create(
            code="P-B",
            name="乙医院",
            kind=Place.Kind.MEDICAL,
            location=Point(109.97, 35.17, srid=4326),
            grid=territory.grids["B-S"],
        ),
        "station": StationFactory(location=Point(109.93, 35.19, srid=4326), grid=territory.grids["A-S"]),
        "incident_a": incident("A-S", "litter"),
        "incident_b": incident("B-N", "road"),
    }
    return rows


def names(collection: dict) -> set[str]:
    return {f["properties"]["name"] for f in collection["features"]}


# --- the legend ------------------------------------------------------------------------------------------------------


def test_anonymous_legend_shows_only_public_layers_with_their_counts(api, register):
    response = api.get("/api/v1/layers/")
    assert response.status_code == 200
    legend = {layer["name"]: layer for layer in response.json()}
    assert set(legend) == {"places", "stations", "things", "organizations", "party_organizations", "activities"}
    assert (legend["places"]["count"], legend["stations"]["count"], legend["things"]["count"]) == (2, 1, 0)
    places = legend["places"]
    assert places["group"] == "places" and places["sensitivity"] == "public" and places["geometry_field"] == "location"
    assert {"name": "kind", "title": "类型"}.items() <= places["attributes"][3].items()
    filters = {f["name"]: f for f in places["filters"]}
    assert set(filters) == {"in_bbox", "area", "kind", "from", "to"}
    assert {c["value"] for c in filters["kind"]["choices"]} == set(Place.Kind.values)


def test_legend_counts_what_each_caller_may_see(api_as, people, register):
    def counts(user, **params):
        return {layer["name"]: layer["count"] for layer in api_as(user).get("/api/v1/layers/", params).json()}

    # the administrator of the county: everyone but the person in a sensitive category
    admin = counts(people["admin"])
    assert (admin["people"], admin["gig_workers"], admin["party_members"], admin["incidents"]) == (4, 2, 1, 2)
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=True)
    assert counts(cleared)["people"] == 5
    # the dispatcher of community A: its three people less the sensitive one
    assert counts(people["dispatcher_a"])["people"] == 2
    assert counts(people["dispatcher_street_b"])["people"] == 2
    # within a box around grid A-S only
    boxed = counts(people["admin"], in_bbox="109.90,35.15,109.95,35.20")
    assert (boxed["people"], boxed["places"], boxed["incidents"]) == (1, 1, 1)
    # residents open no personal layer
    assert "people" not in counts(people["resident"])


def test_legend_hides_sensitive_category_choices_without_clearance(api_as, people, register):
    def category_values(user):
        legend = {layer["name"]: layer for layer in api_as(user).get("/api/v1/layers/").json()}
        (category,) = [f for f in legend["people"]["filters"] if f["name"] == "category"]
        return {c["value"] for c in category["choices"]}

    assert "released" not in category_values(people["admin"])
    assert "released" in category_values(UserFactory(role=Role.ADMINISTRATOR, sensitive_clearance=True))


def test_legend_takes_a_fixed_number_of_queries(api_as, people, register, django_assert_num_queries):
    client = api_as(people["dispatcher_a"])
    # token + user, the caller's areas, every layer's count in one statement, incident categories
    with django_assert_num_queries(4):
        assert client.get("/api/v1/layers/").status_code == 200


def test_legend_bad_bbox_is_a_400_naming_the_field(api, db):
    response = api.get("/api/v1/layers/", {"in_bbox": "110,35,109,36"})
    assert response.status_code == 400 and "in_bbox" in response.json()


# --- GeoJSON per layer -----------------------------------------------------------------------------------------------


def test_people_geojson_masks_personal_fields(api_as, people, register):
    response = api_as(people["dispatcher_a"]).get("/api/v1/layers/people/")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["count"] == 2 and body["next"] is None
    (zhang,) = [f for f in body["features"] if f["id"] == register["zhang"].pk]
    assert zhang["geometry"] == {"type": "Point", "coordinates": [109.92, 35.17]}
    props = zhang["properties"]
    # the last four digits only, behind a fixed run of stars: no region, no birth date, no length
    assert props["id_card"] == "*" * 14 + ID_CARD[-4:] and props["phone"] == "*" * 7 + PHONE[-4:]
    # the birth date as its decade: beside the last four digits, a full date would give the number back
    assert props["birth_date"] == "1990-1999"
    assert props["grid"] == "G-A-S" and props["member_code"] == f"DY{register['zhang'].pk:010d}"
    text = response.content.decode()
    assert ID_CARD not in text and PHONE not in text
    for leaked in (BIRTH.isoformat(), BIRTH.strftime("%Y%m%d"), ID_CARD[:6], ID_CARD[6:14]):
        assert leaked not in text
    legend = {layer["name"]: layer for layer in api_as(people["dispatcher_a"]).get("/api/v1/layers/").json()}
    personal = {a["name"] for a in legend["people"]["attributes"] if a["personal"]}
    assert personal == {"id_card", "phone", "birth_date"}
    # clearance does not unmask the map: only the audited endpoint does
    cleared = UserFactory(role=Role.DISPATCHER, areas=[people["dispatcher_a"].areas.get()], sensitive_clearance=True)
    assert ID_CARD not in api_as(cleared).get("/api/v1/layers/people/").content.decode()
    assert not AuditEntry.objects.exists()


def test_sensitive_categories_are_invisible_without_clearance(api_as, people, register):
    admin = api_as(people["admin"])
    assert "王五" not in names(admin.get("/api/v1/layers/people/").json())
    hidden = admin.get("/api/v1/layers/people/", {"category": "released"})
    assert hidden.status_code == 400 and "category" in hidden.json()
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=True)
    client = api_as(cleared)
    assert "王五" in names(client.get("/api/v1/layers/people/").json())
    assert names(client.get("/api/v1/layers/people/", {"category": "released"}).json()) == {"王五"}


def test_each_dispatcher_sees_only_its_own_area(api_as, people, register):
    a, b = api_as(people["dispatcher_a"]), api_as(people["dispatcher_street_b"])
    assert names(a.get("/api/v1/layers/people/").json()) == {"张三", "李四"}
    assert names(b.get("/api/v1/layers/people/").json()) == {"赵六", "钱七"}
    assert names(a.get("/api/v1/layers/gig_workers/").json()) == {"李四"}
    # asking for the other's area gives nothing, not the other's rows
    assert a.get("/api/v1/layers/people/", {"area": "610527002"}).json()["count"] == 0
    assert b.get("/api/v1/layers/people/", {"area": "610527001001"}).json()["count"] == 0
    assert b.get("/api/v1/layers/incidents/", {"area": "G-A-S"}).json()["count"] == 0
    assert a.get("/api/v1/layers/incidents/", {"area": "G-A-S"}).json()["count"] == 1
    # the grid worker of A-S: its grid only
    worker = api_as(people["worker"]).get("/api/v1/layers/people/").json()
    assert names(worker) == {"张三"}


def test_anonymous_callers_see_places_but_not_people(api, api_as, people, register):
    places = api.get("/api/v1/layers/places/")
    assert places.status_code == 200 and names(places.json()) == {"甲饭店", "乙医院"}
    assert api.get("/api/v1/layers/stations/").json()["count"] == 1
    for layer in ("people", "gig_workers", "households", "incidents"):
        assert api.get(f"/api/v1/layers/{layer}/").status_code == 401
    assert api_as(people["resident"]).get("/api/v1/layers/people/").status_code == 403
    assert api_as(people["resident"]).get("/api/v1/layers/places/").status_code == 200


def test_filters_by_area_kind_category_bbox_and_time(api, api_as, people, register):
    assert names(api.get("/api/v1/layers/places/", {"kind": "medical"}).json()) == {"乙医院"}
    assert names(api.get("/api/v1/layers/places/", {"area": "610527001"}).json()) == {"甲饭店"}
    assert names(api.get("/api/v1/layers/places/", {"area": "G-B-S"}).json()) == {"乙医院"}
    assert names(api.get("/api/v1/layers/places/", {"in_bbox": "109.95,35.15,110.0,35.25"}).json()) == {"乙医院"}
    admin = api_as(people["admin"])
    assert names(admin.get("/api/v1/layers/people/", {"category": "party_member"}).json()) == {"张三"}
    assert names(admin.get("/api/v1/layers/gig_workers/", {"kind": "courier"}).json()) == {"钱七"}
    litter = admin.get("/api/v1/layers/incidents/", {"category": "litter"}).json()
    assert [f["id"] for f in litter["features"]] == [register["incident_a"].pk]
    # time: move one place's creation back a week
    Place.objects.filter(pk=register["place_b"].pk).update(created=timezone.now() - dt.timedelta(days=7))
    today = timezone.localdate()
    assert names(api.get("/api/v1/layers/places/", {"from": today.isoformat()}).json()) == {"甲饭店"}
    week_ago = (today - dt.timedelta(days=7)).isoformat()
    assert names(api.get("/api/v1/layers/places/", {"from": week_ago, "to": week_ago}).json()) == {"乙医院"}


def test_geometry_is_written_to_seven_decimals_for_points_and_six_for_shapes(api, register):
    Organization.objects.create(
        code="ORG-1",
        name="甲社区党委",
        kind=Organization.Kind.PARTY_COMMITTEE,
        geometry=Polygon.from_bbox((109.9000001234, 35.15, 109.95, 35.2000004321)),
    )
    place = api.get("/api/v1/layers/places/", {"kind": "dining"}).json()["features"][0]
    assert place["geometry"]["coordinates"] == [109.9212346, 35.1712346]
    org = api.get("/api/v1/layers/party_organizations/").json()["features"][0]
    ring = org["geometry"]["coordinates"][0]
    assert [109.9, 35.15] in ring and [109.95, 35.2] in ring


def test_pages_follow_each_other(api_as, people, register):
    client = api_as(people["admin"])
    first = client.get("/api/v1/layers/people/", {"page_size": 3}).json()
    assert first["count"] == 4 and len(first["features"]) == 3 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["features"]) == 1 and second["next"] is None
    assert {f["id"] for f in first["features"]} | {f["id"] for f in second["features"]} == set(
        Person.objects.exclude(name="王五").values_list("pk", flat=True)
    )


@pytest.mark.parametrize("rows", [2, 20])
def test_the_feature_list_takes_a_fixed_number_of_queries(api_as, people, territory, rows, django_assert_num_queries):
    for i in range(rows):
        person(
            f"人{i}", "A-S", ["registered", "gig_worker"], id_card=f"61052619900101{i:04d}", platform="美团", d=i * 1e-4
        )
    client = api_as(people["dispatcher_a"])
    # token + user, the caller's areas, the area code's check, the count, the page (relations joined,
    # geometry written by PostGIS)
    with django_assert_num_queries(5):
        response = client.get("/api/v1/layers/gig_workers/", {"area": "610527001001"})
    assert response.json()["count"] == rows


@pytest.mark.parametrize(
    ("layer", "params", "field"),
    [
        ("places", {"in_bbox": "109.9,35.1,110"}, "in_bbox"),
        ("places", {"in_bbox": "a,b,c,d"}, "in_bbox"),
        ("places", {"in_bbox": "109.9,95,110,96"}, "in_bbox"),
        ("places", {"in_bbox": "110,35,109,36"}, "in_bbox"),
        ("places", {"kind": "castle"}, "kind"),
        ("places", {"category": "dining"}, "category"),  # places have kinds, not categories
        ("places", {"from": "yesterday"}, "from"),
        ("places", {"to": "2024-02-30"}, "to"),
        ("places", {"from": "2024-05-02", "to": "2024-05-01"}, "to"),
        ("places", {"area": "999999"}, "area"),
        ("places", {"page_size": "0"}, "page_size"),
        ("incidents", {"category": "no-such-category"}, "category"),
        ("gig_workers", {"kind": "astronaut"}, "kind"),
    ],
)
def test_bad_filter_values_are_400s_naming_the_field(api_as, people, register, layer, params, field):
    response = api_as(people["admin"]).get(f"/api/v1/layers/{layer}/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_an_unknown_layer_is_a_json_404(api):
    response = api.get("/api/v1/layers/no_such_layer/")
    assert response.status_code == 404 and "detail" in response.json()


# --- unmasked reads --------------------------------------------------------------------------------------------------


@pytest.fixture
def cleared_dispatcher_a(people):
    return UserFactory(
        username="disp-a-cleared",
        role=Role.DISPATCHER,
        areas=[people["dispatcher_a"].areas.get()],
        sensitive_clearance=True,
    )


def test_an_unmasked_read_returns_the_values_and_is_audited(api_as, cleared_dispatcher_a, register, territory):
    url = f"/api/v1/layers/people/{register['zhang'].pk}/sensitive/"
    response = api_as(cleared_dispatcher_a).post(url, {"reason": "核实身份"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "id": register["zhang"].pk,
        "id_card": ID_CARD,
        "phone": PHONE,
        "birth_date": BIRTH.isoformat(),
    }
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target, entry.reason, entry.area) == (
        cleared_dispatcher_a,
        "unmasked_read",
        f"layers.person:{register['zhang'].pk}",
        "核实身份",
        territory.community_a,
    )


def test_an_unmasked_read_takes_its_reason_in_a_post_body_never_a_query_string(api_as, cleared_dispatcher_a, register):
    url = f"/api/v1/layers/people/{register['zhang'].pk}/sensitive/"
    client = api_as(cleared_dispatcher_a)
    got = client.get(url, {"reason": "核实身份"})
    assert got.status_code == 405 and ID_CARD not in got.content.decode()
    # a reason in the URL of a POST is not taken either
    response = client.post(f"{url}?reason=核实身份", {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert not AuditEntry.objects.exists()


def test_unmasked_reads_need_clearance_a_reason_and_scope(api, api_as, people, cleared_dispatcher_a, register):
    url = f"/api/v1/layers/people/{register['zhang'].pk}/sensitive/"
    assert api.post(url, {"reason": "x"}, format="json").status_code == 401
    assert api_as(people["dispatcher_a"]).post(url, {"reason": "x"}, format="json").status_code == 403
    client = api_as(cleared_dispatcher_a)
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 301}):
        response = client.post(url, body, format="json")
        assert response.status_code == 400 and "reason" in response.json()
    outside = client.post(f"/api/v1/layers/people/{register['zhao'].pk}/sensitive/", {"reason": "核实"}, format="json")
    assert outside.status_code == 404
    assert client.post("/api/v1/layers/people/999999/sensitive/", {"reason": "核实"}, format="json").status_code == 404
    assert not AuditEntry.objects.exists()


# --- the audit log ---------------------------------------------------------------------------------------------------


def test_only_auditors_and_superusers_read_the_audit_log(api, api_as, people, cleared_dispatcher_a, register):
    api_as(cleared_dispatcher_a).post(
        f"/api/v1/layers/people/{register['zhang'].pk}/sensitive/", {"reason": "核实"}, format="json"
    )
    assert api.get("/api/v1/audit/").status_code == 401
    for role in ("worker", "dispatcher_a", "admin", "resident"):
        assert api_as(people[role]).get("/api/v1/audit/").status_code == 403
    assert api_as(cleared_dispatcher_a).get("/api/v1/audit/").status_code == 403
    body = api_as(people["auditor"]).get("/api/v1/audit/").json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert (entry["actor"], entry["action"], entry["reason"]) == ("disp-a-cleared", "unmasked_read", "核实")
    superuser = UserFactory(is_superuser=True, is_staff=True)
    assert api_as(superuser).get("/api/v1/audit/").json()["count"] == 1


def test_the_audit_log_filters_by_actor_action_and_time(api_as, people):
    # append-only: an entry cannot be moved back in time, so the time filters are checked around today
    audit_record(actor=people["admin"], action=AuditEntry.Action.EXPORT, target="places")
    audit_record(
        actor=people["dispatcher_a"], action=AuditEntry.Action.UNMASKED_READ, target="layers.person:1", reason="核实"
    )
    client = api_as(people["auditor"])

    def targets(**params):
        return [e["target"] for e in client.get("/api/v1/audit/", params).json()["results"]]

    assert targets() == ["layers.person:1", "places"]
    assert targets(actor="admin-county") == ["places"]
    assert targets(action="unmasked_read") == ["layers.person:1"]
    today = timezone.localdate()
    assert len(targets(**{"from": today.isoformat(), "to": today.isoformat()})) == 2
    assert targets(to=(today - dt.timedelta(days=1)).isoformat()) == []
    # an unknown name answers as an account without entries does: the filter tells nobody who has an account
    quiet = client.get("/api/v1/audit/", {"actor": people["worker"].username})
    unknown = client.get("/api/v1/audit/", {"actor": "no-such-account"})
    assert quiet.status_code == unknown.status_code == 200 and quiet.json() == unknown.json()


def test_an_auditor_reads_only_the_entries_of_their_own_area(api_as, people, territory, register):
    # given unmasked reads of a person of street A and of one of street B, by cleared dispatchers of each
    reader_a = UserFactory(role=Role.DISPATCHER, areas=[territory.street_a], sensitive_clearance=True)
    reader_b = UserFactory(role=Role.DISPATCHER, areas=[territory.street_b], sensitive_clearance=True)
    for reader, row in ((reader_a, "zhang"), (reader_b, "zhao")):
        url = f"/api/v1/layers/people/{register[row].pk}/sensitive/"
        assert api_as(reader).post(url, {"reason": "核实"}, format="json").status_code == 200
    # and an export by each (placed at its actor's area), and one by a superuser of everything (no area)
    audit_record(actor=reader_a, action=AuditEntry.Action.EXPORT, target="people")
    audit_record(actor=reader_b, action=AuditEntry.Action.EXPORT, target="people")
    audit_record(actor=UserFactory(is_superuser=True), action=AuditEntry.Action.EXPORT, target="places")

    def seen(user) -> list[tuple[str, str]]:
        body = api_as(user).get("/api/v1/audit/").json()
        assert body["count"] == len(body["results"])
        return sorted((e["target"], e["actor"]) for e in body["results"])

    auditor_a = UserFactory(role=Role.AUDITOR, areas=[territory.street_a])
    auditor_b = UserFactory(role=Role.AUDITOR, areas=[territory.street_b])
    assert seen(auditor_a) == sorted(
        [(f"layers.person:{register['zhang'].pk}", reader_a.username), ("people", reader_a.username)]
    )
    assert seen(auditor_b) == sorted(
        [(f"layers.person:{register['zhao'].pk}", reader_b.username), ("people", reader_b.username)]
    )
    # the county's auditor reads both streets; only a superuser reads the entry about no one area
    assert len(seen(people["auditor"])) == 4
    assert len(seen(UserFactory(is_superuser=True, is_staff=True))) == 5
    # an auditor of community A reads the read of a person of A, not street A's export (about a wider area)
    community_auditor = UserFactory(role=Role.AUDITOR, areas=[territory.community_a])
    assert seen(community_auditor) == [(f"layers.person:{register['zhang'].pk}", reader_a.username)]


def test_an_export_filtered_to_an_area_is_placed_in_that_area(api_as, people, territory):
    audit_record(
        actor=people["admin"],
        action=AuditEntry.Action.EXPORT,
        target="people",
        details={"filters": {"area": territory.grids["B-S"].code}},
    )
    assert AuditEntry.objects.get().area == territory.community_b
    auditor_b = UserFactory(role=Role.AUDITOR, areas=[territory.street_b])
    auditor_a = UserFactory(role=Role.AUDITOR, areas=[territory.street_a])
    assert api_as(auditor_b).get("/api/v1/audit/").json()["count"] == 1
    assert api_as(auditor_a).get("/api/v1/audit/").json()["count"] == 0
    # a filter wider than the actor's scope leaves the entry at the actor's own area, where its rows came from
    wide = audit_record(
        actor=people["dispatcher_a"],
        action=AuditEntry.Action.EXPORT,
        target="people",
        details={"filters": {"area": territory.county.code}},
    )
    assert wide.area == territory.community_a


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "sneeze"}, "action"),
        ({"actor": "x" * 151}, "actor"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, "to"),
        ({"from": "tuesday"}, "from"),
    ],
)
def test_bad_audit_filters_are_400s(api_as, people, params, field):
    response = api_as(people["auditor"]).get("/api/v1/audit/", params)
    assert response.status_code == 400 and field in response.json()
