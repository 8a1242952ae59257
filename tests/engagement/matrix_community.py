"""Access-matrix rows of party building: community check-in and volunteering (see tests/engagement/matrix.py for the
world's objects).

On each side s there is a pending registration (`registration_s`) with a community of the side: on side a it is the
volunteer's own, with another community of street A than the hotspot grid's (so that the volunteer may still register
with that one, `reg_community_a`); on sides b and x it is member_s's, with the community of the side's grid
(`reg_community_s`). Branch s has an open volunteer task at the side's point (`vtask_s`) and a claimed one
(`vtask_claimed_s`): claimed by the volunteer on side a, by member_s elsewhere. Only the volunteer has a person of the
register among the world's accounts, so only it registers and claims; the staff of an area decide its check-ins and
run its branches' tasks."""

import uuid

from django.utils import timezone

from engagement.models import CommunityRegistration, VolunteerTask
from grid.models import AdminArea
from layers.models import Person
from tests.access_rows import row

REG = "/api/v1/engagement/community/registrations/"
VOL = "/api/v1/engagement/volunteering/"
TASK = {"branch": "{branch}", "title": "矩阵任务", "lon": "{lon}", "lat": "{lat}", "client_uuid": "{uuid}"}

# fmt: off
ROWS = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
    # -- community check-in: registering is the member's own business, wherever they live or work
    row("POST", REG,
        "401     403     201     403     403     403     403",
        body={"community": "{reg_community}", "basis": "live", "client_uuid": "{uuid}"}),
    row("POST", REG,
        "401     403     400     403     403     403     403", body={"basis": "live", "client_uuid": "{uuid}"}),
    row("GET", REG + "?status=pending",
        "401     403     403     403     200+    200+    200+", lists="registration"),
    row("GET", REG + "mine/",
        "401     200     200+    200     200     200     200", lists="registration"),
    row("POST", REG + "{registration}/withdraw/",
        "401     404     200|404 404     404     404     404"),
    row("POST", REG + "{registration}/accept/",
        "401     403     403     403     200|404 200|404 403"),
    row("POST", REG + "{registration}/decline/",
        "401     403     403     403     200|404 200|404 403", body={"answer": "matrix"}),
    row("GET", "/api/v1/engagement/community/{reg_community}/roster/",
        "401     200     200     200     200     200     200"),
    row("GET", "/api/v1/engagement/community/nearest/?lon={lon_a}&lat={lat_a}",
        "401     200     200     200     200     200     200"),
    # -- volunteer tasks and small wishes: published by who runs the branch, claimed by members in reach
    row("GET", VOL,
        "401     200     200+    200+    200+    200+    200", lists="vtask"),
    row("POST", VOL,
        "401     403     403     201|400 201|400 201|400 403", body=TASK),
    row("GET", VOL + "hours/mine/",
        "401     200     200     200     200     200     200"),
    row("POST", VOL + "{vtask}/claim/",
        "401     403     200|404 403     403     403     403"),
    row("POST", VOL + "{vtask_claimed}/done/",
        "401     404     200|404 200|404 200|404 200|404 404"),
    row("POST", VOL + "{vtask}/cancel/",
        "401     404     403|404 200|404 200|404 200|404 404"),
]
# fmt: on

PLACEHOLDERS: dict[str, object] = {"registration": 1, "reg_community": "610527001001", "vtask": 1, "vtask_claimed": 1}


def build(world, grids, base) -> None:
    """This part's own objects, as `world.ids` entries "<kind>_<side>"."""
    volunteer = Person.objects.get(pk=world.ids["member_person_a"])
    now = timezone.now()
    for s, grid in grids.items():
        community = grid.community
        person = base[s]["member"]
        registered_with = community
        if s == "a":
            person = volunteer
            registered_with = (
                AdminArea.objects.filter(parent_id=community.parent_id, level=AdminArea.Level.COMMUNITY)
                .exclude(pk=community.pk)
                .order_by("code")
                .first()
            )
            assert registered_with is not None, "street A needs a second community"
        registration = CommunityRegistration.objects.create(
            person=person, community=registered_with, basis="live", client_uuid=uuid.uuid4()
        )
        common = {"branch": base[s]["branch"], "location": base[s]["point"], "community": community}
        task = VolunteerTask.objects.create(title=f"矩阵任务{s}", **common)
        claimed = VolunteerTask.objects.create(
            title=f"矩阵已认领{s}", status=VolunteerTask.Status.CLAIMED, claimed_by=person, claimed_at=now, **common
        )
        world.ids.update(
            {
                f"registration_{s}": registration.pk,
                f"reg_community_{s}": community.code,
                f"vtask_{s}": task.pk,
                f"vtask_claimed_{s}": claimed.pk,
            }
        )
