"""Online branches: public lists and pages with counts, names only for those who know the branch, activities,
notices written by the branch's runners, and the mobile members its home branch sees on the map."""

import datetime as dt
import uuid

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from pyproj import Geod

from engagement.models import Activity, BranchCadre, BranchNotice, CheckIn, MobileMemberRecord
from grid.crs import wgs84_to_gcj02
from grid.models import Role
from layers.models import Organization, Person, PersonCategory
from tests.factories import UserFactory

LIST = "/api/v1/engagement/branches/"
GEOD = Geod(ellps="WGS84")


def detail(pk):
    return f"/api/v1/engagement/branches/{pk}/"


def notices(pk):
    return f"/api/v1/engagement/branches/{pk}/notices/"


def mobile(pk):
    return f"/api/v1/engagement/branches/{pk}/mobile-members/"


@pytest.fixture
def branches(territory):
    """Branch a in grid A-S (street A) with two members, one a mobile member and a cadre; branch b in B-S."""
    committee = Organization.objects.create(code="PC-1", name="县委", kind=Organization.Kind.PARTY_COMMITTEE)
    a = Organization.objects.create(
        code="BR-A",
        name="甲支部",
        kind=Organization.Kind.BRANCH,
        parent=committee,
        geometry=Point(109.92, 35.17, srid=4326),
        grid=territory.grids["A-S"],
    )
    b = Organization.objects.create(
        code="BR-B",
        name="乙支部",
        kind=Organization.Kind.BRANCH,
        parent=committee,
        geometry=Point(109.97, 35.17, srid=4326),
        grid=territory.grids["B-S"],
    )
    secretary = Person.objects.create(
        name="张书记", branch=a, account=UserFactory(username="secretary-a"), categories=[PersonCategory.PARTY_MEMBER]
    )
    BranchCadre.objects.create(branch=a, person=secretary, title=BranchCadre.Title.SECRETARY)
    away = Person.objects.create(
        name="刘流动",
        branch=a,
        account=UserFactory(username="away-a", role=Role.GIG_WORKER),
        categories=[PersonCategory.PARTY_MEMBER],
        mobile_member=True,
    )
    Person.objects.create(name="陈党员", branch=b, categories=[PersonCategory.PARTY_MEMBER])
    return {"a": a, "b": b, "secretary": secretary, "away": away}


def activity(branch, *, days: float, title: str, **extra) -> Activity:
    starts = timezone.now() + dt.timedelta(days=days)
    return Activity.objects.create(
        kind=Activity.Kind.THEME_DAY,
        branch=branch,
        title=title,
        location=branch.geometry,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        venue_name="党群服务中心",
        **extra,
    )


def test_the_list_is_public_with_counts_and_parents(api, branches, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        body = api.get(LIST).json()
    assert body["type"] == "FeatureCollection" and body["count"] == 2
    a = next(f for f in body["features"] if f["properties"]["code"] == "BR-A")
    assert a["properties"]["member_count"] == 2 and a["properties"]["parent"]["name"] == "县委"
    assert a["geometry"]["coordinates"] == [109.92, 35.17]
    assert "members" not in a["properties"]


def test_the_list_narrows_to_an_area_and_sorts_by_true_distance(api, branches, territory):
    codes = [f["properties"]["code"] for f in api.get(LIST, {"area": territory.street_b.code}).json()["features"]]
    assert codes == ["BR-B"]
    assert api.get(LIST, {"area": territory.county.code}).json()["count"] == 2
    assert api.get(LIST, {"area": territory.community_a.code}).json()["count"] == 1

    # near a point east of branch b, given in GCJ-02: b first, distances within a metre of pyproj's
    lon, lat = wgs84_to_gcj02(109.99, 35.17)
    features = api.get(LIST, {"lon": lon, "lat": lat, "crs": "gcj02"}).json()["features"]
    assert [f["properties"]["code"] for f in features] == ["BR-B", "BR-A"]
    for f, x in zip(features, (109.97, 109.92), strict=True):
        assert abs(f["properties"]["distance_m"] - GEOD.inv(109.99, 35.17, x, 35.17)[2]) < 1
    within = api.get(LIST, {"lon": 109.99, "lat": 35.17, "radius_m": 3000}).json()["features"]
    assert [f["properties"]["code"] for f in within] == ["BR-B"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"area": "999999"}, "area"),
        ({"area": "x\x00"}, "area"),
        ({"lon": 109.9}, "lat"),
        ({"lon": "east", "lat": 35}, "lon"),
        ({"lon": 109.9, "lat": 95}, "lat"),
        ({"lon": 109.9, "lat": 35, "crs": "mars"}, "crs"),
        ({"radius_m": 100}, "radius_m"),
        ({"lon": 109.9, "lat": 35, "radius_m": -1}, "radius_m"),
    ],
)
def test_bad_list_queries_are_field_errors(api, branches, query, field):
    answer = api.get(LIST, query)
    assert answer.status_code == 400 and field in answer.json()


def test_the_page_shows_counts_to_the_public_and_names_only_to_those_who_know_the_branch(api, api_as, branches, people):
    a = branches["a"]
    upcoming = activity(a, days=2, title="七一主题党日")
    running = activity(a, days=-0.01, title="正在开的会")
    past = activity(a, days=-10, title="三月党课")
    CheckIn.objects.create(
        activity=past,
        person=branches["secretary"],
        home_branch=a,
        method="code",
        at=timezone.now(),
        client_uuid=uuid.uuid4(),
    )
    BranchNotice.objects.create(branch=a, title="本月主题党日通知", body="请准时参加")
    BranchNotice.objects.create(branch=a, title="明天的通知", published_at=timezone.now() + dt.timedelta(days=1))

    public = api.get(detail(a.pk)).json()
    assert public["counts"] == {"members": 2, "cadres": 1, "mobile_members": 0, "activities": 3}
    assert public["known"] is False and public["members"] is None and public["cadres"] is None
    assert "张书记" not in str(public) and "刘流动" not in str(public)
    assert [x["title"] for x in public["upcoming"]] == [running.title, upcoming.title]
    assert [(x["title"], x["checkin_count"]) for x in public["past"]] == [("三月党课", 1)]
    assert [n["title"] for n in public["notices"]] == ["本月主题党日通知"]  # not one published tomorrow

    # a dispatcher of the other street and a resident see counts only, too
    for outsider in (people["dispatcher_street_b"], people["resident"]):
        assert api_as(outsider).get(detail(a.pk)).json()["members"] is None

    # its own member, its cadre and the staff of its area see names and titles
    for insider in (branches["away"].account, branches["secretary"].account, people["dispatcher_a"], people["auditor"]):
        body = api_as(insider).get(detail(a.pk)).json()
        assert body["known"] is True
        assert sorted(m["name"] for m in body["members"]) == ["刘流动", "张书记"]
        assert [(c["name"], c["title"]) for c in body["cadres"]] == [("张书记", "secretary")]


def test_a_missing_branch_or_another_kind_of_organization_is_404(api, branches):
    assert api.get(detail(2147483000)).status_code == 404
    assert api.get(detail(branches["a"].parent_id)).status_code == 404


def test_notices_are_published_by_the_branch_runners_once(api, api_as, branches, people):
    a = branches["a"]
    body = {"title": "学习通知", "body": "周五下午", "client_uuid": str(uuid.uuid4())}
    secretary = api_as(branches["secretary"].account)
    first = secretary.post(notices(a.pk), body, format="json")
    again = secretary.post(notices(a.pk), body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and BranchNotice.objects.count() == 1
    listed = api.get(notices(a.pk)).json()
    assert listed["count"] == 1 and listed["results"][0]["title"] == "学习通知"

    # the dispatcher of its street runs it too
    body2 = {"title": "街道通知", "client_uuid": str(uuid.uuid4())}
    assert api_as(people["dispatcher_a"]).post(notices(a.pk), body2, format="json").status_code == 201


def test_notices_of_a_branch_one_does_not_run(api, api_as, branches, people):
    a = branches["a"]
    body = {"title": "越权通知", "client_uuid": str(uuid.uuid4())}
    assert api.post(notices(a.pk), body, format="json").status_code == 401
    # a member who is no cadre, and the auditor of its area, know the branch: refused
    assert api_as(branches["away"].account).post(notices(a.pk), body, format="json").status_code == 403
    assert api_as(people["auditor"]).post(notices(a.pk), body, format="json").status_code == 403
    # staff of another area: as if it did not exist
    assert api_as(people["dispatcher_street_b"]).post(notices(a.pk), body, format="json").status_code == 404
    assert not BranchNotice.objects.exists()

    notice = BranchNotice.objects.create(branch=a, title="旧通知")
    url = f"{notices(a.pk)}{notice.pk}/"
    assert api_as(people["dispatcher_street_b"]).delete(url).status_code == 404
    assert api_as(branches["away"].account).delete(url).status_code == 403
    # a notice named under another branch is not there
    assert api_as(people["admin"]).delete(f"{notices(branches['b'].pk)}{notice.pk}/").status_code == 404
    assert api_as(branches["secretary"].account).delete(url).status_code == 204
    assert not BranchNotice.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_uuid": "{uuid}"}, "title"),
        ({"title": "", "client_uuid": "{uuid}"}, "title"),
        ({"title": "x" * 201, "client_uuid": "{uuid}"}, "title"),
        ({"title": "ok", "body": "x" * 5001, "client_uuid": "{uuid}"}, "body"),
        ({"title": "ok"}, "client_uuid"),
        ({"title": "ok", "client_uuid": "not-a-uuid"}, "client_uuid"),
    ],
)
def test_bad_notices_are_field_errors(api_as, branches, body, field):
    body = {k: (str(uuid.uuid4()) if v == "{uuid}" else v) for k, v in body.items()}
    answer = api_as(branches["secretary"].account).post(notices(branches["a"].pk), body, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert not BranchNotice.objects.exists()


def test_the_home_branch_sees_its_mobile_members_with_their_checkins_elsewhere(
    api, api_as, branches, people, territory
):
    a, b, away = branches["a"], branches["b"], branches["away"]
    today = timezone.localdate()
    MobileMemberRecord.objects.create(
        person=away,
        community=territory.community_a,
        location=Point(109.93, 35.18, srid=4326),
        since=today - dt.timedelta(days=60),
        until=today - dt.timedelta(days=20),
    )
    MobileMemberRecord.objects.create(
        person=away,
        community=territory.community_b,
        location=Point(109.98, 35.22, srid=4326),
        since=today - dt.timedelta(days=20),
    )
    for n, branch in enumerate([b, b, a]):
        CheckIn.objects.create(
            activity=activity(branch, days=-n - 1, title=f"活动{n}"),
            person=away,
            home_branch=a,
            method="geofence",
            at=timezone.now(),
            client_uuid=uuid.uuid4(),
        )

    answer = api_as(branches["secretary"].account).get(mobile(a.pk))
    assert answer.status_code == 200
    features = answer.json()["features"]
    assert len(features) == 1
    f = features[0]
    assert f["geometry"]["coordinates"] == [109.98, 35.22]
    assert f["properties"]["name"] == "刘流动" and f["properties"]["community"]["code"] == territory.community_b.code
    assert f["properties"]["checkins_elsewhere"] == 2  # the one at its own branch is not "elsewhere"
    assert api.get(detail(a.pk)).json()["counts"]["mobile_members"] == 1

    # the branch's area staff see them; others are told of no such branch
    assert api_as(people["dispatcher_a"]).get(mobile(a.pk)).status_code == 200
    assert api_as(people["dispatcher_street_b"]).get(mobile(a.pk)).status_code == 404
    assert api_as(people["resident"]).get(mobile(a.pk)).status_code == 404
    assert api.get(mobile(a.pk)).status_code == 401
    assert api_as(people["dispatcher_street_b"]).get(mobile(b.pk)).json()["features"] == []
