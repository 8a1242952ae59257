"""Access-matrix rows of party building: checkins (see tests/engagement/matrix.py for the world's objects).

A member checks in wherever the activity is (activity_s runs now at the side's point, and lets other branches'
members in): the volunteer, a party member of branch a, at either side. Accounts without a register entry may not.
The organizer's check-in and the rotating code are for those who run the activity's branch; for anybody else the
activity is as one that does not exist."""

from tests.access_rows import row

CHECKINS = "/api/v1/engagement/activities/{activity}/checkins/"
BY_POSITION = {"client_uuid": "{uuid}", "method": "geofence", "lon": "{lon}", "lat": "{lat}", "accuracy": 10}
FORGED_CODE = {"client_uuid": "{uuid}", "method": "code", "code": "000000"}

# fmt: off
ROWS = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
    row("POST", CHECKINS,
        "401     403     201     403     403     403     403", body=BY_POSITION),
    row("POST", CHECKINS,
        "401     403     400     403     403     403     403", body=FORGED_CODE),
    row("POST", CHECKINS + "organizer/",
        "401     404     404     201|404 201|404 201|404 404",
        body={"person": "{member}", "reason": "matrix", "client_uuid": "{uuid}"}),
    row("GET", "/api/v1/engagement/activities/{activity}/code/",
        "401     404     404     200|404 200|404 200|404 404"),
    row("GET", "/m/activities/{activity}/code/",
        "302     404     404     200|404 200|404 200|404 404", page=True),
]
# fmt: on

PLACEHOLDERS: dict[str, object] = {}


def build(world, grids, base) -> None:
    """This part's own objects, as `world.ids` entries "<kind>_<side>": none beyond the shared ones."""
