"""Members and branches: the personal code (一人一号) and its signature, branch notices, mobile members' whereabouts.

A personal code's QR payload is `GL1.<member code>.<version>.<signature>`: the signature is HMAC-SHA256 over the
first three parts, truncated to 120 bits and written in base32, so the whole payload stays in the QR code's
alphanumeric alphabet (a smaller code for the same data). Anybody holding the key verifies it offline; the server
also knows the current version, so a re-issued code stops verifying.
"""

import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.models import BranchNotice, MobileMemberRecord, PersonalCode
from grid.models import AdminArea, User
from grid.selectors import placement_of
from layers.models import Organization, Person, PersonCategory
from layers.services import person_member_code_ensure

CODE_PREFIX = "GL1"
SIGNATURE_BYTES = 15  # 120 bits; a multiple of 5, so base32 needs no padding
PAYLOAD_PATTERN = re.compile(r"GL1\.([A-Z]{2}[0-9]{1,18})\.([1-9][0-9]{0,8})\.([A-Z2-7]{24})")


class CodeInvalid(Exception):
    """A payload that names nobody: `reason` says why, for the scanner's screen."""

    def __init__(self, reason) -> None:
        super().__init__(str(reason))
        self.reason = reason


class NoPersonalCode(Exception):
    """The person is neither a party member nor a gig worker: no code to show."""


@dataclass(frozen=True)
class IssuedCode:
    person: Person
    member_code: str
    version: int
    issued_at: dt.datetime
    payload: str


def _code_key() -> bytes:
    configured = getattr(settings, "ENGAGEMENT_CODE_KEY", "")
    if configured:
        return configured.encode()
    # Derived, not SECRET_KEY itself: a verifier handed this key learns nothing that signs sessions.
    return hmac.new(settings.SECRET_KEY.encode(), b"gridline.engagement.personal-code", hashlib.sha256).digest()


def personal_code_signature(*, member_code: str, version: int) -> str:
    message = f"{CODE_PREFIX}.{member_code}.{version}".encode()
    digest = hmac.new(_code_key(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.b32encode(digest).decode()


def personal_code_payload(*, member_code: str, version: int) -> str:
    signature = personal_code_signature(member_code=member_code, version=version)
    return f"{CODE_PREFIX}.{member_code}.{version}.{signature}"


def personal_code_read(*, payload: str) -> tuple[str, int]:
    """The member code and version a payload signs, checked offline (the key alone); CodeInvalid otherwise."""
    match = PAYLOAD_PATTERN.fullmatch(payload.strip().upper())
    if match is None:
        raise CodeInvalid(_("not a personal code"))
    member_code, version, signature = match.group(1), int(match.group(2)), match.group(3)
    expected = personal_code_signature(member_code=member_code, version=version)
    if not hmac.compare_digest(expected, signature):
        raise CodeInvalid(_("signature does not match"))
    return member_code, version


def person_has_code(person: Person) -> bool:
    categories = set(person.categories)
    return person.branch_id is not None or bool({PersonCategory.PARTY_MEMBER, PersonCategory.GIG_WORKER} & categories)


def personal_code_issue(*, person: Person) -> IssuedCode:
    """The person's current code: the member code (given now if the person had none) and the current version."""
    if not person_has_code(person):
        raise NoPersonalCode
    member_code = person_member_code_ensure(person=person)
    code = PersonalCode.objects.filter(person=person).first()
    if code is None:
        try:
            with transaction.atomic():
                code = PersonalCode.objects.create(person=person)
        except IntegrityError:  # a second request of the same phone made it first
            code = PersonalCode.objects.get(person=person)
    payload = personal_code_payload(member_code=member_code, version=code.version)
    return IssuedCode(person, member_code, code.version, code.issued_at, payload)


def personal_code_reissue(*, person: Person) -> IssuedCode:
    """A new version of the person's code: every code shown or printed before stops verifying."""
    issued = personal_code_issue(person=person)
    with transaction.atomic():
        code = PersonalCode.objects.select_for_update().get(person=person)
        code.version += 1
        code.issued_at = timezone.now()
        code.save(update_fields=["version", "issued_at"])
    payload = personal_code_payload(member_code=issued.member_code, version=code.version)
    return IssuedCode(person, issued.member_code, code.version, code.issued_at, payload)


def personal_code_verify(*, payload: str) -> Person:
    """The person a scanned code names, if its signature holds and it is the current version; CodeInvalid else."""
    member_code, version = personal_code_read(payload=payload)
    person = Person.objects.select_related("branch").filter(member_code=member_code).first()
    if person is None:
        raise CodeInvalid(_("no member has this code"))
    current = PersonalCode.objects.filter(person=person).values_list("version", flat=True).first() or 1
    if version < current:
        raise CodeInvalid(_("re-issued: this code is no longer valid"))
    if version > current:
        raise CodeInvalid(_("this version of the code was never issued"))
    return person


# ---- notices -------------------------------------------------------------------------------------------------


def branch_notice_publish(
    *, branch: Organization, author: User, title: str, body: str = "", client_uuid: uuid.UUID
) -> tuple[BranchNotice, bool]:
    """Publish a notice once per client_uuid: a resend answers the notice it made."""
    notice, created = BranchNotice.objects.get_or_create(
        client_uuid=client_uuid, defaults={"branch": branch, "author": author, "title": title, "body": body}
    )
    return notice, created


def branch_notice_delete(*, notice: BranchNotice) -> None:
    notice.delete()


# ---- mobile members (流动党员) ----------------------------------------------------------------------------------


class WhereaboutsRefused(Exception):
    def __init__(self, field: str, message) -> None:
        super().__init__(str(message))
        self.field, self.message = field, message


def _community_at(point: Point) -> AdminArea | None:
    return placement_of(point=point).community


def _point_of(community: AdminArea) -> Point | None:
    if community.boundary is None:
        return None
    point = community.boundary.point_on_surface
    point.srid = 4326
    return point


def mobile_member_record(
    *,
    person: Person,
    client_uuid: uuid.UUID,
    since: dt.date,
    community: AdminArea | None = None,
    location: Point | None = None,
    note: str = "",
) -> tuple[MobileMemberRecord, bool]:
    """Record where a member now lives or works, once per client_uuid; the member's current record ends then."""
    existing = MobileMemberRecord.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if existing.person_id != person.pk:
            raise WhereaboutsRefused("client_uuid", _("This client_uuid belongs to another member's record."))
        return existing, False
    if community is None and location is not None:
        community = _community_at(location)
    if location is None and community is not None:
        location = _point_of(community)
    with transaction.atomic():
        # the person's row orders concurrent records of one member: one closes the other, never both open
        Person.objects.select_for_update().filter(pk=person.pk).values_list("pk", flat=True).get()
        current = MobileMemberRecord.objects.filter(person=person, until=None).first()
        if current is not None:
            if since < current.since:
                raise WhereaboutsRefused(
                    "since",
                    _("The current record starts on %(day)s: a new one cannot start before it.")
                    % {"day": current.since.isoformat()},
                )
            current.until = since
            current.save(update_fields=["until", "modified"])
        record = MobileMemberRecord.objects.create(
            person=person, community=community, location=location, since=since, note=note, client_uuid=client_uuid
        )
    return record, True
