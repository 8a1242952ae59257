"""Access-matrix rows of party building: points and the station mall (see tests/engagement/matrix.py for the
world's objects).

Each side s has a station at its point with a mall item (`mallitem_s`) and an order of it (`mallorder_s`, its code
`pickupcode_s`): on side a the volunteer's (who holds points), elsewhere the side's member's. The worker keeps the
station of side a. Only the volunteer has a register entry, so only it has a ledger, orders and cancels; anybody
may read a leaderboard (names masked unless the caller may read them); the administrator corrects the points of
people in its county (a foreign person is as one that does not exist: 400); the keeper confirms pickups at its own
station (another station's code is a 404)."""

import uuid

from engagement.models import MallItem, MallOrder, StationKeeper
from engagement.models.points import CORRECTION
from engagement.services.mall import pickup_code_new
from engagement.services.points import points_credit
from grid.models import Station
from layers.models import Person
from tests.access_rows import row

MALL = "/api/v1/engagement/mall/"
POINTS = "/api/v1/engagement/points/"

# fmt: off
ROWS = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
    row("GET", POINTS + "me/",
        "401     404     200     404     404     404     404"),
    row("GET", POINTS + "leaderboard/?branch={branch}",
        "401     200     200     200     200     200     200"),
    row("GET", POINTS + "leaderboard/?community={ptcommunity}",
        "401     200     200     200     200     200     200"),
    row("POST", POINTS + "corrections/",
        "401     403     403     403     403     201|400 403",
        body={"person": "{member}", "amount": 5, "note": "matrix", "client_uuid": "{uuid}"}),
    row("GET", MALL + "items/?near={lon},{lat}",
        "401     200     200     200     200     200     200"),
    row("POST", MALL + "orders/",
        "401     403     201     403     403     403     403", body={"item": "{mallitem}", "client_uuid": "{uuid}"}),
    row("GET", MALL + "orders/mine/",
        "401     403     200+    403     403     403     403", lists="mallorder"),
    row("POST", MALL + "orders/{mallorder}/cancel/",
        "401     403     200|404 403     403     403     403"),
    row("POST", MALL + "pickups/",
        "401     403     403     200|404 403     403     403", body={"pickup_code": "{pickupcode}"}),
    # -- pages: they draw from the APIs above
    row("GET", "/m/mall/",
        "302     200     200     200     200     200     200", page=True),
    row("GET", "/m/station/",
        "302     200     200     200     200     200     200", page=True),
]
# fmt: on

PLACEHOLDERS: dict[str, object] = {"mallitem": 1, "mallorder": 1, "pickupcode": "X", "ptcommunity": "1"}


def build(world, grids, base) -> None:
    """A station with an item and an order on each side, points for the volunteer, the worker as keeper of a."""
    volunteer = Person.objects.get(pk=world.ids["member_person_a"])
    points_credit(person=volunteer, amount=500, reason=CORRECTION, source="matrix", key="matrix:points:volunteer")
    for s, grid in grids.items():
        station = Station.objects.create(
            kind=Station.Kind.COURIER_STATION, name=f"矩阵驿站{s}", location=world.points[s], grid=grid
        )
        item = MallItem.objects.create(name=f"矩阵礼品{s}", price=10, stock=5, station=station)
        buyer = volunteer if s == "a" else base[s]["member"]
        order = MallOrder.objects.create(
            item=item, person=buyer, points=10, pickup_code=pickup_code_new(), client_uuid=uuid.uuid4()
        )
        world.ids.update(
            {
                f"mallitem_{s}": item.pk,
                f"mallorder_{s}": order.pk,
                f"pickupcode_{s}": order.pickup_code,
                f"ptcommunity_{s}": grid.community.code,
            }
        )
        if s == "a":
            StationKeeper.objects.create(station=station, account=world.users["worker"])
