"""Access-matrix rows of party building: members (see tests/engagement/matrix.py for the world's objects).

My code and my whereabouts are the caller's own: only the volunteer is linked to a party member. A code verifies
for station keepers, cadres and staff who run an area, whichever side the member is from (members check in
anywhere). Branches are public, names aside; a notice is written by those who run its branch: one the caller
knows but does not run is refused (403), any other is as absent (404); mobile members are for those who know it.
"""

import datetime as dt

from django.utils import timezone

from engagement.models import BranchNotice, MobileMemberRecord
from engagement.services.members import personal_code_issue
from tests.access_rows import row

BRANCH = "/api/v1/engagement/branches/{branch}/"
WHERE = {"lon": "{lon_a}", "lat": "{lat_a}", "client_uuid": "{uuid}"}

# fmt: off
ROWS = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
    row("GET", "/api/v1/engagement/me/code/",
        "401     403     200     403     403     403     403"),
    row("POST", "/api/v1/engagement/me/code/reissue/",
        "401     403     200     403     403     403     403"),
    row("POST", "/api/v1/engagement/codes/verify/",
        "401     403     403     200     200     200     403", body={"payload": "{code}"}),
    row("GET", "/api/v1/engagement/me/whereabouts/",
        "401     403     200     403     403     403     403"),
    row("POST", "/api/v1/engagement/me/whereabouts/",
        "401     403     201     403     403     403     403", body=WHERE),
    row("GET", "/api/v1/engagement/branches/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/engagement/branches/?lon={lon_a}&lat={lat_a}&radius_m=500",
        "200     200     200     200     200     200     200"),
    row("GET", BRANCH,
        "200     200     200     200     200     200     200"),
    row("GET", BRANCH + "notices/",
        "200     200     200     200     200     200     200"),
    row("POST", BRANCH + "notices/",
        "401     404     403|404 201|404 201|404 201|404 403|404",
        body={"title": "矩阵通知", "client_uuid": "{uuid}"}),
    row("DELETE", BRANCH + "notices/{notice}/",
        "401     404     403|404 204|404 204|404 204|404 403|404"),
    row("GET", BRANCH + "mobile-members/",
        "401     404     200|404 200|404 200|404 200|404 200|404"),
    # -- pages
    row("GET", "/m/me/",
        "302     200     200     200     200     200     200", page=True),
    row("GET", "/branches/{branch}/",
        "200     200     200     200     200     200     200", page=True),
]
# fmt: on

PLACEHOLDERS: dict[str, object] = {"notice": 1}


def build(world, grids, base) -> None:
    """A notice of each side's branch, its member away from home, and that member's code."""
    today = timezone.localdate()
    for s, made in base.items():
        notice = BranchNotice.objects.create(branch=made["branch"], title=f"矩阵通知{s}")
        away = MobileMemberRecord.objects.create(
            person=made["member"], location=made["point"], since=today - dt.timedelta(days=10)
        )
        world.ids.update(
            {
                f"notice_{s}": notice.pk,
                f"mobile_{s}": away.pk,
                f"code_{s}": personal_code_issue(person=made["member"]).payload,
            }
        )
