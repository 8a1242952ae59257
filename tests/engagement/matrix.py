"""Party building's part of the access matrix: the objects each side of the world gets, and the rows of each part
(members, activities, check-ins, community, points and mall), each kept in its own module beside this one.

On each side s (a, b, x) there is a branch placed in the side's grid (`branch_s`), an activity of it at the side's
point, running now (`activity_s`), and a member of it (`member_s`, a Person without an account). The volunteer of
the world is a party member of branch a and a gig worker (`member_person_a` is its Person): "own" for a member is
its own branch. The dispatcher of street A and the county's administrator run branch a through their areas.
"""

import datetime as dt

from django.utils import timezone

from engagement.models import Activity
from layers.models import Organization, Person, PersonCategory
from tests.engagement import matrix_activities, matrix_checkins, matrix_community, matrix_members, matrix_points

PARTS = (matrix_members, matrix_activities, matrix_checkins, matrix_community, matrix_points)

ROWS = [entry for part in PARTS for entry in part.ROWS]
PLACEHOLDERS = {
    "branch": 1,
    "activity": 1,
    "member": 1,
    **{key: value for part in PARTS for key, value in part.PLACEHOLDERS.items()},
}


def build(world, grids) -> None:
    """Add the engagement objects of every side to `world.ids`, then each part's own."""
    now = timezone.now()
    base: dict[str, dict] = {}
    for s, grid in grids.items():
        point = world.points[s]
        branch = Organization.objects.create(
            code=f"M-BRANCH-{s}", name=f"矩阵支部{s}", kind=Organization.Kind.BRANCH, geometry=point, grid=grid
        )
        member = Person.objects.create(
            name=f"矩阵党员{s}", grid=grid, location=point, branch=branch, categories=[PersonCategory.PARTY_MEMBER]
        )
        activity = Activity.objects.create(
            kind=Activity.Kind.THEME_DAY,
            branch=branch,
            title=f"矩阵活动{s}",
            location=point,
            grid=grid,
            starts_at=now - dt.timedelta(minutes=10),
            ends_at=now + dt.timedelta(hours=1),
        )
        base[s] = {"branch": branch, "member": member, "activity": activity, "grid": grid, "point": point}
        world.ids.update({f"branch_{s}": branch.pk, f"member_{s}": member.pk, f"activity_{s}": activity.pk})
    volunteer = world.users["volunteer"]
    me = Person.objects.create(
        name="矩阵志愿者",
        grid=grids["a"],
        location=world.points["a"],
        branch=base["a"]["branch"],
        account=volunteer,
        categories=[PersonCategory.PARTY_MEMBER, PersonCategory.GIG_WORKER],
    )
    world.ids["member_person_a"] = me.pk
    for part in PARTS:
        part.build(world, grids, base)
