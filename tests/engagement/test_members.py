"""My code (一人一号): a signed QR payload that verifies offline, drawn by segno and read back by OpenCV; re-issuing
makes every earlier code stale; only keepers, cadres and area staff learn whom a code names. And mobile members'
whereabouts: a new record closes the previous one."""

import base64
import datetime as dt
import hashlib
import hmac
import io
import uuid

import pytest
import segno
from django.contrib.gis.geos import Point
from django.utils import timezone

from engagement.models import BranchCadre, MobileMemberRecord, PersonalCode, StationKeeper
from engagement.services.members import (
    CodeInvalid,
    _code_key,
    personal_code_payload,
    personal_code_read,
    personal_code_verify,
)
from grid.crs import wgs84_to_gcj02
from grid.models import Role
from layers.models import Organization, Person, PersonCategory
from tests.factories import StationFactory, UserFactory

CODE = "/api/v1/engagement/me/code/"
REISSUE = "/api/v1/engagement/me/code/reissue/"
VERIFY = "/api/v1/engagement/codes/verify/"
WHEREABOUTS = "/api/v1/engagement/me/whereabouts/"


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a PNG, as OpenCV's detector reads it."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None, "no QR code found"
    return text


def png_of(payload: str) -> bytes:
    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=8, border=4)
    return out.getvalue()


@pytest.fixture
def branch(territory):
    return Organization.objects.create(
        code="BR-A",
        name="甲社区党支部",
        kind=Organization.Kind.BRANCH,
        geometry=Point(109.92, 35.17, srid=4326),
        grid=territory.grids["A-S"],
    )


@pytest.fixture
def member(branch, territory):
    account = UserFactory(username="member-a", role=Role.GIG_WORKER)
    return Person.objects.create(
        name="王党员",
        branch=branch,
        account=account,
        grid=territory.grids["A-S"],
        categories=[PersonCategory.PARTY_MEMBER, PersonCategory.GIG_WORKER],
    )


@pytest.fixture
def gig_worker(territory):
    account = UserFactory(username="gig-b", role=Role.GIG_WORKER)
    return Person.objects.create(name="李小哥", account=account, categories=[PersonCategory.GIG_WORKER])


@pytest.fixture
def keeper(db):
    account = UserFactory(username="keeper", role=Role.GIG_WORKER)
    StationKeeper.objects.create(station=StationFactory(), account=account)
    return account


def test_a_member_gets_a_code_that_verifies_offline_and_decodes_from_its_qr(api_as, member):
    # when the member opens the code
    body = api_as(member.account).get(CODE).json()

    # then it names the member's stable code, version 1, and the branch
    member.refresh_from_db()
    assert member.member_code == f"DY{member.pk:010d}"
    assert body["member_code"] == member.member_code and body["version"] == 1
    assert body["branch"]["name"] == "甲社区党支部" and body["is_gig_worker"] is True
    assert body["svg"].lstrip().startswith("<svg") and "xmlns" in body["svg"]

    # and the payload's signature is an HMAC-SHA256 over code and version, recomputed here independently
    prefix, code, version, signature = body["payload"].split(".")
    assert (prefix, code, version) == ("GL1", member.member_code, "1")
    digest = hmac.new(_code_key(), f"GL1.{code}.{version}".encode(), hashlib.sha256).digest()
    assert len(base64.b32decode(signature)) * 8 >= 80
    assert base64.b32decode(signature) == digest[: len(base64.b32decode(signature))]

    # and a QR drawn by segno from it reads back, with OpenCV, to the same payload, which verifies
    assert decode_qr(png_of(body["payload"])) == body["payload"]
    assert personal_code_read(payload=body["payload"]) == (member.member_code, 1)
    assert personal_code_verify(payload=body["payload"]) == member


def test_a_gig_worker_outside_the_party_gets_an_xg_code(api_as, gig_worker):
    body = api_as(gig_worker.account).get(CODE).json()
    assert body["member_code"] == f"XG{gig_worker.pk:010d}" and body["branch"] is None and body["is_gig_worker"]


def test_nobody_else_has_a_code(api_as, territory):
    resident = UserFactory(username="res", role=Role.RESIDENT)
    assert api_as(resident).get(CODE).status_code == 403  # linked to nobody
    Person.objects.create(name="居民", account=resident, categories=[PersonCategory.REGISTERED])
    answer = api_as(resident).get(CODE)
    assert answer.status_code == 403 and "gig workers" in answer.json()["detail"]
    assert not PersonalCode.objects.exists()


def test_reissuing_makes_every_earlier_code_stale(api_as, member, keeper):
    client = api_as(member.account)
    first = client.get(CODE).json()["payload"]
    second = client.post(REISSUE).json()
    third = client.post(REISSUE).json()
    assert (second["version"], third["version"]) == (2, 3)
    assert client.get(CODE).json()["payload"] == third["payload"]

    scanner = api_as(keeper)
    for stale in (first, second["payload"]):
        answer = scanner.post(VERIFY, {"payload": stale}, format="json")
        assert answer.status_code == 400
        assert answer.json()["payload"] == ["re-issued: this code is no longer valid"]
    answer = scanner.post(VERIFY, {"payload": third["payload"]}, format="json")
    assert answer.status_code == 200
    member.refresh_from_db()
    assert answer.json() == {
        "name": "王党员",
        "member_code": member.member_code,
        "version": 3,
        "is_party_member": True,
        "is_gig_worker": True,
        "branch": {"id": member.branch_id, "code": "BR-A", "name": "甲社区党支部"},
    }


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"), "signature does not match"),
        (lambda p: p.replace(".1.", ".2.", 1), "signature does not match"),  # a version raised by hand
        (lambda p: p.replace("DY", "XG", 1), "signature does not match"),  # another person's code, same signature
        (lambda p: "GL1.DY123", "not a personal code"),
        (lambda p: "https://example.com/?q=1", "not a personal code"),
    ],
)
def test_a_forged_code_is_refused_naming_the_reason(api_as, member, keeper, tamper, reason):
    payload = api_as(member.account).get(CODE).json()["payload"]
    answer = api_as(keeper).post(VERIFY, {"payload": tamper(payload)}, format="json")
    assert answer.status_code == 400 and answer.json()["payload"] == [reason]


def test_a_code_signed_with_another_key_is_forged(api_as, member, keeper, settings):
    settings.ENGAGEMENT_CODE_KEY = "another-deployment"
    foreign = personal_code_payload(member_code=f"DY{member.pk:010d}", version=1)
    del settings.ENGAGEMENT_CODE_KEY
    answer = api_as(keeper).post(VERIFY, {"payload": foreign}, format="json")
    assert answer.json()["payload"] == ["signature does not match"]


def test_a_well_signed_code_of_nobody_is_refused(keeper, api_as, territory):
    payload = personal_code_payload(member_code="DY0999999999", version=1)
    answer = api_as(keeper).post(VERIFY, {"payload": payload}, format="json")
    assert answer.status_code == 400 and answer.json()["payload"] == ["no member has this code"]
    with pytest.raises(CodeInvalid):
        personal_code_verify(payload=payload)


@pytest.mark.parametrize("body", [{}, {"payload": ""}, {"payload": 12}, {"payload": "x" * 201}, {"payload": ["a"]}])
def test_bad_verify_input_is_a_field_error(api_as, keeper, body):
    answer = api_as(keeper).post(VERIFY, body, format="json")
    assert answer.status_code == 400 and "payload" in answer.json()


def test_only_keepers_cadres_and_area_staff_verify(api_as, member, people, gig_worker, branch):
    payload = api_as(member.account).get(CODE).json()["payload"]
    # a gig worker (not a keeper), a resident and an auditor may not learn whom a code names
    for refused in (gig_worker.account, people["resident"], people["auditor"]):
        assert api_as(refused).post(VERIFY, {"payload": payload}, format="json").status_code == 403
    # area staff may, wherever the member is from: members check in anywhere
    for allowed in (people["worker"], people["dispatcher_street_b"], people["admin"]):
        assert api_as(allowed).post(VERIFY, {"payload": payload}, format="json").status_code == 200
    # and a branch's cadre may
    BranchCadre.objects.create(branch=branch, person=gig_worker)
    assert api_as(gig_worker.account).post(VERIFY, {"payload": payload}, format="json").status_code == 200


# ---- whereabouts ------------------------------------------------------------------------------------------------


def test_a_new_whereabouts_record_closes_the_previous(api_as, member, territory):
    client = api_as(member.account)
    today = timezone.localdate()
    first = client.post(
        WHEREABOUTS,
        {
            "community": territory.community_b.code,
            "since": str(today - dt.timedelta(days=30)),
            "note": "打工",
            "client_uuid": str(uuid.uuid4()),
        },
        format="json",
    )
    assert first.status_code == 201
    # given as GCJ-02, stored as WGS 84, its community derived from the point
    lon, lat = wgs84_to_gcj02(109.93, 35.18)
    key = str(uuid.uuid4())
    second = client.post(WHEREABOUTS, {"lon": lon, "lat": lat, "crs": "gcj02", "client_uuid": key}, format="json")
    assert second.status_code == 201
    assert second.json()["community"]["code"] == territory.community_a.code
    x, y = second.json()["location"]["coordinates"]
    assert abs(x - 109.93) < 1e-5 and abs(y - 35.18) < 1e-5
    # a resend creates nothing
    again = client.post(WHEREABOUTS, {"lon": lon, "lat": lat, "crs": "gcj02", "client_uuid": key}, format="json")
    assert again.status_code == 200 and again.json()["id"] == second.json()["id"]

    records = client.get(WHEREABOUTS).json()
    assert [r["current"] for r in records] == [True, False]
    assert records[1]["until"] == str(today) and records[1]["community"]["code"] == territory.community_b.code
    assert MobileMemberRecord.objects.filter(person=member, until=None).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "client_uuid"),
        ({"client_uuid": "u"}, "client_uuid"),
        ({"client_uuid": "{uuid}"}, "community"),  # neither a community nor a point
        ({"client_uuid": "{uuid}", "community": "999999999999"}, "community"),
        ({"client_uuid": "{uuid}", "community": {"x": 1}}, "community"),
        ({"client_uuid": "{uuid}", "lon": 109.9}, "lat"),
        ({"client_uuid": "{uuid}", "lon": 200, "lat": 35}, "lon"),
        ({"client_uuid": "{uuid}", "lon": "nan", "lat": 35}, "lon"),
        ({"client_uuid": "{uuid}", "lon": 109.9, "lat": 35.2, "crs": "utm"}, "crs"),
        ({"client_uuid": "{uuid}", "lon": 109.9, "lat": 35.2, "since": "2999-01-01"}, "since"),
        ({"client_uuid": "{uuid}", "lon": 109.9, "lat": 35.2, "since": "yesterday"}, "since"),
        ({"client_uuid": "{uuid}", "lon": 109.9, "lat": 35.2, "note": "x" * 301}, "note"),
    ],
)
def test_bad_whereabouts_are_field_errors_and_write_nothing(api_as, member, body, field):
    body = {k: (str(uuid.uuid4()) if v == "{uuid}" else v) for k, v in body.items()}
    answer = api_as(member.account).post(WHEREABOUTS, body, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.json()
    assert not MobileMemberRecord.objects.exists()


def test_a_record_cannot_start_before_the_current_one(api_as, member, territory):
    client = api_as(member.account)
    today = timezone.localdate()
    client.post(
        WHEREABOUTS,
        {"community": territory.community_b.code, "since": str(today), "client_uuid": str(uuid.uuid4())},
        format="json",
    )
    answer = client.post(
        WHEREABOUTS,
        {
            "community": territory.community_a.code,
            "since": str(today - dt.timedelta(days=3)),
            "client_uuid": str(uuid.uuid4()),
        },
        format="json",
    )
    assert answer.status_code == 400 and "since" in answer.json()
    assert MobileMemberRecord.objects.count() == 1


def test_only_branch_members_record_whereabouts(api_as, gig_worker, people, territory):
    body = {"community": territory.community_a.code, "client_uuid": str(uuid.uuid4())}
    assert api_as(gig_worker.account).post(WHEREABOUTS, body, format="json").status_code == 403
    assert api_as(people["dispatcher_a"]).post(WHEREABOUTS, body, format="json").status_code == 403


def test_another_members_client_uuid_is_a_conflict(api_as, member, territory, branch):
    other = Person.objects.create(
        name="赵", branch=branch, account=UserFactory(username="other-m"), categories=[PersonCategory.PARTY_MEMBER]
    )
    key = str(uuid.uuid4())
    api_as(member.account).post(
        WHEREABOUTS, {"community": territory.community_b.code, "client_uuid": key}, format="json"
    )
    answer = api_as(other.account).post(
        WHEREABOUTS, {"community": territory.community_b.code, "client_uuid": key}, format="json"
    )
    assert answer.status_code == 409 and MobileMemberRecord.objects.filter(person=other).count() == 0
