"""What an account without clearance sees of a person cannot be turned back into the ID-card number, the phone or
the birth date.

An attacker is granted the most the records could tell: the true region code (the record's county, or for a
floating resident the code of wherever they come from), the decade of birth shown, the gender, the four characters
the mask shows, and GB 11643's check character. The numbers that fit all of it are counted by enumeration,
independently of the application's code, and must be at least K. Checked on the masks themselves (hypothesis, over
well-formed numbers of any region, birth date and sequence) and on people of the demo county's register (its own
generator) as the layer API, the vector tiles, a CSV export and the gig-worker profile show them to each role.
"""

import csv
import datetime as dt
import functools
import itertools
import math
import re

import mapbox_vector_tile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.demo.register import FLOATING_REGIONS, REGION, organizations_generate, register_generate
from fixtures.demo.territory import territory_generate
from grid.models import Role
from layers import crypto
from layers.io.exports import export_run
from layers.models import SENSITIVE_CATEGORIES, ExportJob
from tests.factories import UserFactory
from tests.layers.helpers import IN, person

K = 50  # the fewest ID-card numbers that must fit what one record shows

# GB 11643-1999 as the standard prints it, not the application's or the demo generator's code
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_card(region: str, birth: dt.date, sequence: int) -> str:
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def id_cards_fitting(*, region: str, shown_id: str, shown_birth: str, gender: str, today: dt.date) -> list[str]:
    """Every number of `region` that fits the shown mask, decade of birth (no later than today) and gender."""
    shown = re.fullmatch(r"\*{14}(\d{3})([\dX])", shown_id)
    assert shown, f"the mask shows more than four characters: {shown_id}"
    sequence, check = shown.groups()
    if gender and (int(sequence[2]) % 2 == 1) != (gender == "male"):
        return []
    decade = re.fullmatch(r"(\d{4})-(\d{4})", shown_birth)
    assert decade, f"the birth date is shown as more than a decade: {shown_birth}"
    # the weighted sum of the known digits once; each date adds its own eight
    known = sum(int(d) * w for d, w in zip(region + "00000000" + sequence, WEIGHTS, strict=True))
    return [
        f"{region}{digits}{sequence}{check}"
        for digits, weighted in dates_weighted(int(decade[1]), int(decade[2]), today)
        if "10X98765432"[(known + weighted) % 11] == check
    ]


@functools.cache
def dates_weighted(first_year: int, last_year: int, today: dt.date) -> tuple[tuple[str, int], ...]:
    """Every date of the years (none after today) as its eight digits, with their weighted sum in GB 11643."""
    day, last = dt.date(first_year, 1, 1), min(dt.date(last_year, 12, 31), today)
    found = []
    while day <= last:
        digits = f"{day:%Y%m%d}"
        found.append((digits, sum(int(d) * w for d, w in zip(digits, WEIGHTS[6:14], strict=True))))
        day += dt.timedelta(days=1)
    return tuple(found)


def mobiles_fitting(shown_phone: str) -> int:
    """How many mainland mobile numbers (1[3-9] and nine digits) end in the four digits the mask shows."""
    assert re.fullmatch(r"\*{7}\d{4}", shown_phone), f"the mask shows more than four digits: {shown_phone}"
    return 7 * 10**5


# --- the masks, over every well-formed number ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    region=st.sampled_from((REGION, *FLOATING_REGIONS)) | st.from_regex(r"[1-6][0-9]{5}", fullmatch=True),
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date.today()),
    sequence=st.integers(min_value=1, max_value=999),
)
def test_no_id_card_number_is_one_of_fewer_than_k_that_fit_what_is_shown(region, birth, sequence):
    number = id_card(region, birth, sequence)
    gender = "male" if sequence % 2 else "female"
    fitting = id_cards_fitting(
        region=region,
        shown_id=crypto.mask_id_card(number),
        shown_birth=crypto.mask_birth_date(birth),
        gender=gender,
        today=dt.date.today(),
    )
    assert number in fitting  # the enumeration is the attacker's: it must find the truth among its candidates
    assert len(fitting) >= K


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_phone_mask_shows_four_digits_and_not_the_length(phone):
    shown = crypto.mask_phone(phone)
    assert shown.endswith(phone[-4:]) and mobiles_fitting(shown) >= K
    assert crypto.mask_phone(phone[:-4] + "0000")[:-4] == shown[:-4]  # nothing but the last four moves the mask


# --- the demo register, as each role without clearance sees it -----------------------------------------------------

GRIDS = tuple(IN)


@pytest.fixture
def demo_people(territory):
    """People of the demo county's first chunks (its own generator), placed in the test territory's grids."""
    county = territory_generate()
    chunks = itertools.islice(register_generate(county, organizations_generate(county), scale=1), 3)
    specs = [spec for chunk in chunks for spec in chunk.people]
    made = {}
    for i, spec in enumerate(specs):
        row = person(
            spec.name,
            GRIDS[i % len(GRIDS)],
            list(spec.categories),
            id_card=spec.id_card,
            phone=spec.phone,
            d=(i // len(GRIDS)) * 5e-4,
            gender=spec.gender,
            birth_date=spec.birth_date,
            platform=spec.platform,
            work_kind=spec.work_kind,
            mobile_member=spec.mobile_member,
        )
        made[row.pk] = spec
    assert any(SENSITIVE_CATEGORIES & set(s.categories) for s in specs)  # some are hidden from these roles
    return made


def secrets_of(spec) -> list[str]:
    """What must never be readable in anything shown without clearance."""
    number, birth = spec.id_card, spec.birth_date
    found = [number, number[:14], number[6:14], number[:6] + number[6:10], birth.isoformat(), f"{birth:%Y%m%d}"]
    if spec.phone:
        found += [spec.phone, spec.phone[:7]]
    return found


def tiles_over_territory(z: int = 11) -> list[tuple[int, int, int]]:
    def tile_of(lon: float, lat: float) -> tuple[int, int]:
        n = 2**z
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    (x0, y0), (x1, y1) = tile_of(109.90, 35.25), tile_of(110.0, 35.15)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def visible_payloads(api_as, user) -> dict[str, list[dict]]:
    """Every record `user` gets, by where it came from: property dicts without geometry."""
    client = api_as(user)
    shown: dict[str, list[dict]] = {}
    for layer in ("people", "gig_workers", "party_members"):
        body = client.get(f"/api/v1/layers/{layer}/", {"page_size": 5000}).json()
        shown[f"api:{layer}"] = [{"id": f["id"], **f["properties"]} for f in body["features"]]
        tiles = []
        for z, x, y in tiles_over_territory():
            response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt")
            if response.status_code == 200:
                decoded = mapbox_vector_tile.decode(response.content)
                tiles += [f["properties"] for f in decoded.get(layer, {}).get("features", [])]
        shown[f"tiles:{layer}"] = tiles
    job = export_run(job=ExportJob.objects.create(created_by=user, layer="people", format="csv", filters={}))
    assert job.status == "done", job.error
    with open(job.file.path, encoding="utf-8-sig", newline="") as exported:
        shown["csv:people"] = [
            {k: v for k, v in row.items() if k not in ("X", "Y")} for row in csv.DictReader(exported)
        ]
    shown["profile"] = [client.get("/api/v1/layers/gig_workers/profile/").json()]
    return shown


@pytest.mark.parametrize("role", ["worker", "dispatcher_a", "dispatcher_street_b", "admin", "auditor"])
def test_nothing_shown_without_clearance_gives_back_a_number_a_phone_or_a_birth_date(api_as, people, demo_people, role):
    user = people[role]
    today = dt.date.today()
    shown = visible_payloads(api_as, user)
    records = shown["api:people"]
    assert records  # every role here sees some of the register
    for record in records:
        spec = demo_people[record["id"]]
        fitting = id_cards_fitting(
            region=spec.id_card[:6],
            shown_id=record["id_card"],
            shown_birth=record["birth_date"],
            gender=record["gender"],
            today=today,
        )
        assert spec.id_card in fitting and len(fitting) >= K, (record, len(fitting))
        if spec.phone:
            assert record["phone"][-4:] == spec.phone[-4:] and mobiles_fitting(record["phone"]) >= K
        else:
            assert record["phone"] == ""
    # the CSV export shows each record exactly as the API does: the same masks, nothing more
    by_id = {int(row["id"]): row for row in shown["csv:people"]}
    assert set(by_id) == {r["id"] for r in records}
    for record in records:
        row = by_id[record["id"]]
        assert (row["id_card"], row["phone"], row["birth_date"]) == (
            record["id_card"],
            record["phone"],
            record["birth_date"],
        )
    # tiles carry no personal value at all, masked or not
    for source in ("tiles:people", "tiles:gig_workers", "tiles:party_members"):
        for properties in shown[source]:
            assert not {"id_card", "phone", "birth_date", "name", "member_code"} & set(properties)
    # the profile counts by decade of birth only, the partition the records show
    bands = set(shown["profile"][0]["by_age_band"]) - {"unknown"}
    assert all(re.fullmatch(r"\d{3}0-\d{3}9", band) for band in bands), bands
    # and no value anywhere, in any field or across fields, holds a number, a phone or a birth date
    text = "\n".join(str(value) for records in shown.values() for record in records for value in record.values())
    for spec in demo_people.values():
        for secret in secrets_of(spec):
            assert secret not in text, (role, secret)


def test_the_same_people_with_clearance_are_revealed_only_by_an_audited_export(api_as, people, demo_people, territory):
    # a control for the test above: with clearance, the export holds the full values the test looks for
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[territory.county], sensitive_clearance=True)
    job = export_run(job=ExportJob.objects.create(created_by=cleared, layer="people", format="csv", filters={}))
    with open(job.file.path, encoding="utf-8-sig", newline="") as exported:
        rows = {int(row["id"]): row for row in csv.DictReader(exported)}
    assert len(rows) == len(demo_people)
    for pk, spec in demo_people.items():
        assert (rows[pk]["id_card"], rows[pk]["phone"], rows[pk]["birth_date"]) == (
            spec.id_card,
            spec.phone,
            spec.birth_date.isoformat(),
        )
    # the API still masks for this account: only the audited read and export reveal
    text = api_as(cleared).get("/api/v1/layers/people/", {"page_size": 5000}).content.decode()
    assert not any(spec.id_card in text or spec.birth_date.isoformat() in text for spec in demo_people.values())
