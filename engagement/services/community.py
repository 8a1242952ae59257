"""Community check-in (进社区报到): a member or gig worker registers with the community where they live or work,
and that community's dispatcher accepts or declines. An accepted registration lets the account claim the
community's service requests (grid's volunteer reach) and earns community_accepted points."""

import uuid

from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.access import communities_served_by, may_decide_registrations
from engagement.models import CommunityRegistration
from engagement.services.points import points_award
from grid.models import AdminArea, User
from grid.services.workforce import volunteer_reach_grant, volunteer_reach_revoke
from layers.models import Person

R = CommunityRegistration.Status
LIVE = (R.PENDING, R.ACCEPTED)


class RegistrationRefused(Exception):
    """The registration cannot be made or changed as things are now (409); the message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RegistrationDenied(Exception):
    """The account may not decide check-ins at all (403)."""


def _points_key(registration: CommunityRegistration) -> str:
    return f"community_accepted:engagement.communityregistration:{registration.pk}"


def registration_submit(
    *,
    person: Person,
    community: AdminArea,
    basis: str,
    client_uuid: uuid.UUID,
    note: str = "",
    location: Point | None = None,
) -> tuple[CommunityRegistration, bool]:
    """Register `person` with `community` once per client_uuid; (registration, created).

    RegistrationRefused when the client_uuid is another person's, or a pending or accepted registration of the
    person with the community exists already."""
    existing = CommunityRegistration.objects.filter(client_uuid=client_uuid).select_related("community").first()
    if existing is not None:
        if existing.person_id != person.pk:
            raise RegistrationRefused(_("This client_uuid belongs to another person's registration."))
        return existing, False
    live = CommunityRegistration.objects.filter(person=person, community=community, status__in=LIVE).first()
    if live is not None:
        raise RegistrationRefused(_already(live))
    try:
        with transaction.atomic():
            made = CommunityRegistration.objects.create(
                person=person,
                community=community,
                basis=basis,
                note=note,
                location=location,
                client_uuid=client_uuid,
            )
    except IntegrityError:
        # a resend racing its first copy, or two registrations of the person with the community at once
        existing = CommunityRegistration.objects.filter(client_uuid=client_uuid, person=person).first()
        if existing is not None:
            return existing, False
        live = CommunityRegistration.objects.filter(person=person, community=community, status__in=LIVE).first()
        raise RegistrationRefused(_already(live) if live else _("Registration failed; try again.")) from None
    return made, True


def _already(live: CommunityRegistration) -> str:
    return _("You are already registered with %(community)s (%(status)s).") % {
        "community": live.community.name,
        "status": live.get_status_display(),
    }


def _lock(registration_id: int) -> CommunityRegistration:
    return (
        CommunityRegistration.objects.select_for_update(of=("self",))
        .select_related("person__account", "community")
        .get(pk=registration_id)
    )


def _reach_take_back(registration: CommunityRegistration) -> None:
    """Take back what this registration's acceptance gave the account, unless another accepted registration of the
    account covers it; then that one holds it."""
    account = registration.person.account
    if account is None or not (registration.granted_area or registration.granted_volunteer):
        return
    others = CommunityRegistration.objects.filter(person__account=account, status=R.ACCEPTED).exclude(
        pk=registration.pk
    )
    same_community = others.filter(community_id=registration.community_id).order_by("pk").first()
    any_other = others.order_by("pk").first()
    take_area = registration.granted_area and same_community is None
    take_flag = registration.granted_volunteer and any_other is None
    if registration.granted_area and same_community is not None:
        CommunityRegistration.objects.filter(pk=same_community.pk).update(granted_area=True)
    if registration.granted_volunteer and any_other is not None:
        CommunityRegistration.objects.filter(pk=any_other.pk).update(granted_volunteer=True)
    volunteer_reach_revoke(user=account, community=registration.community if take_area else None, volunteer=take_flag)
    registration.granted_area = registration.granted_volunteer = False


def registration_withdraw(*, registration_id: int, person: Person) -> CommunityRegistration:
    """The person withdraws a pending or accepted registration of theirs."""
    with transaction.atomic():
        registration = _lock(registration_id)
        if registration.person_id != person.pk:
            raise CommunityRegistration.DoesNotExist
        if registration.status not in LIVE:
            raise RegistrationRefused(
                _("This registration is %(status)s already.") % {"status": registration.get_status_display()}
            )
        if registration.status == R.ACCEPTED:
            _reach_take_back(registration)
        registration.status = R.WITHDRAWN
        registration.save()
    return registration


def _decidable(registration_id: int, actor: User) -> CommunityRegistration:
    if not may_decide_registrations(actor):
        raise RegistrationDenied
    registration = _lock(registration_id)
    if not communities_served_by(actor).filter(pk=registration.community_id).exists():
        raise CommunityRegistration.DoesNotExist  # outside the actor's area: as absent as a missing one
    return registration


def registration_accept(*, registration_id: int, actor: User, answer: str = "") -> CommunityRegistration:
    """The community's dispatcher accepts a pending registration: the account may then claim the community's
    service requests, and the person earns community_accepted points (once)."""
    with transaction.atomic():
        registration = _decidable(registration_id, actor)
        if registration.status != R.PENDING:
            raise RegistrationRefused(
                _("Only a pending registration can be accepted; this one is %(status)s.")
                % {"status": registration.get_status_display()}
            )
        registration.status = R.ACCEPTED
        registration.decided_by, registration.decided_at, registration.answer = actor, timezone.now(), answer
        account = registration.person.account
        if account is not None:
            registration.granted_area, registration.granted_volunteer = volunteer_reach_grant(
                user=account, community=registration.community
            )
        registration.save()
        points_award(
            person=registration.person,
            rule_code="community_accepted",
            source=f"engagement.communityregistration:{registration.pk}",
            key=_points_key(registration),
            at=registration.decided_at,
        )
    return registration


def registration_decline(*, registration_id: int, actor: User, answer: str) -> CommunityRegistration:
    """The community's dispatcher declines a pending registration, or ends an accepted one, with a reason."""
    with transaction.atomic():
        registration = _decidable(registration_id, actor)
        if registration.status not in LIVE:
            raise RegistrationRefused(
                _("Only a pending or accepted registration can be declined; this one is %(status)s.")
                % {"status": registration.get_status_display()}
            )
        if registration.status == R.ACCEPTED:
            _reach_take_back(registration)
        registration.status = R.DECLINED
        registration.decided_by, registration.decided_at, registration.answer = actor, timezone.now(), answer
        registration.save()
    return registration
