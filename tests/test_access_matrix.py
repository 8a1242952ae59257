"""One access matrix: what every role gets from every endpoint, on an object of its own area and of a foreign one.

The table MATRIX is the contract, as data: one row per URL and method, one expected answer per role in ROLES
order. An answer is a status code, or two joined by "|": on an object of the role's own area | of a foreign area.
A trailing "+" on a list endpoint's 200 says that the own-area object is listed; without it, it must be absent.
A foreign-area object is never listed. One parametrised test runs every row for every role (and both sides where
the row names an object), each case in a transaction of its own that rolls back, over the demo county loaded
once for the module. Another test fails when the URLconf has an endpoint (or a method of one) the table lacks.

Who is who (see `world`):
- anonymous: no credentials.
- resident: a demo resident, the reporter of the own-area incidents (so "own" is also "own report").
- volunteer: a gig worker who volunteers, responsible for the community of the hotspot grid.
- worker: the demo grid worker of the hotspot grid (in 城关街道).
- dispatcher: the demo dispatcher of 城关街道 (street A).
- administrator: an administrator of the demo county with sensitive clearance (not a superuser).
- auditor: the demo auditor of the county.
"Foreign" is 东城街道 (street B) for everybody but the county-wide roles, whose foreign area is a second county
made here (an administrator or auditor of the demo county has no business there). Export and import jobs and
notifications are personal: "own" is the caller's, "foreign" another dispatcher's.
"""

import io
import json
import math
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.views.generic.edit import ProcessFormView
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fixtures.demo import demo_county_delete, demo_county_load
from grid.models import AdminArea, Category, Grid, Incident, IncidentPhoto, Notification, Role, User, WorkerStatus
from grid.services import incidents_place
from layers.models import AuditEntry, ExportJob, ImportJob, Person, PersonCategory, Place
from tests.access_rows import ROLES, Row, row
from tests.engagement import matrix as engagement_matrix
from tests.factories import AreaFactory, GridFactory, IncidentFactory, UserFactory, box
from vision.attendance.models import FaceEnrolment, Meeting
from vision.models import Camera, Frame

# Which demo-county object is "own" and which "foreign" for each role: suffixes of the names in World.ids.
SIDES = {role: ("a", "x" if role in ("administrator", "auditor") else "b") for role in ROLES}
PASSWORD = "matrix-pw-0123456789"
IMG = "/api/v1/incidents/{incident}/photos/{photo}/"


REPORT = {"lon": "{lon}", "lat": "{lat}", "category": "litter", "note": "matrix", "client_uuid": "{uuid}"}
AT = "lon={lon_a}&lat={lat_a}"

# fmt: off
MATRIX: list[Row] = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
    # -- the service, its schema and the admin
    row("GET", "/healthz",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/schema/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/docs/",
        "200     200     200     200     200     200     200"),
    row("GET", "/admin/",
        "302     302     302     302     302     302     302", page=True),
    # -- pages: the data they draw comes from the APIs below
    row("GET", "/",
        "302     302     302     302     302     302     302", page=True),
    row("GET", "/map/",
        "200     200     200     200     200     200     200", page=True),
    row("GET", "/console/",
        "302     200     200     200     200     200     200", page=True),
    row("GET", "/m/report/",
        "302     200     200     200     200     200     200", page=True),
    row("GET", "/m/report/sw.js",
        "200     200     200     200     200     200     200", page=True),
    row("GET", "/stations/",
        "200     200     200     200     200     200     200", page=True),
    row("GET", "/accounts/login/",
        "200     200     200     200     200     200     200", page=True),
    row("POST", "/accounts/login/",
        "200     200     200     200     200     200     200",
        page=True, body={"username": "{username}", "password": "not-the-password"}),
    row("POST", "/accounts/logout/",
        "302     302     302     302     302     302     302", page=True),
    # -- tokens
    row("POST", "/api/v1/auth/token/",
        "400     200     200     200     200     200     200",
        body={"username": "{username}", "password": "{password}"}),
    row("DELETE", "/api/v1/auth/token/",
        "401     204     204     204     204     204     204"),
    # -- the public territory
    row("GET", f"/api/v1/stations/nearest/?{AT}",
        "200     200     200     200     200     200     200"),
    row("GET", f"/api/v1/areas/locate/?{AT}",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/areas/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/grids/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/incidents/categories/",
        "200     200     200     200     200     200     200"),
    # -- workers in the field
    row("GET", "/api/v1/workers/me/position/",
        "401     403     200     200     403     403     403"),
    row("POST", "/api/v1/workers/me/position/",
        "401     403     200     200     403     403     403",
        body={"lon": "{lon_a}", "lat": "{lat_a}", "on_duty": True}),
    row("GET", "/api/v1/incidents/claimable/?lon={lon}&lat={lat}&radius_m=300",
        "401     403     200+    200+    403     403     403", lists="claimable"),
    # -- incidents: reads
    row("GET", "/api/v1/incidents/?in_bbox={bbox}",
        "401     200+    200     200+    200+    200+    200+", lists="incident"),
    row("GET", "/api/v1/incidents/{incident}/",
        "401     200|404 404     200|404 200|404 200|404 200|404"),
    row("GET", "/api/v1/incidents/{incident}/timeline/",
        "401     200|404 404     200|404 200|404 200|404 200|404"),
    row("GET", IMG,
        "401     200|404 404     200|404 200|404 200|404 200|404"),
    row("GET", "/api/v1/incidents/{incident}/candidates/",
        "401     403     403     403     200|404 200|404 403"),
    row("GET", "/api/v1/incidents/stats/",
        "401     403     403     403     200     200     200"),
    row("GET", "/api/v1/incidents/stats/?area={area}",
        "401     403     403     403     200|403 200|403 200|403"),
    # -- incidents: writes (reporting anywhere is anybody's right; acting on one needs it in scope)
    row("POST", "/api/v1/incidents/",
        "401     201     201     201     201     201     403", body=REPORT, lists="duplicates"),
    row("POST", "/api/v1/incidents/batch/",
        "401     200     200     200     200     200     403", body={"reports": [REPORT]}),
    row("POST", "/api/v1/incidents/{incident}/transitions/",
        "401     403|404 404     403|404 200|404 200|404 403|404", body={"action": "accept"}),
    # an own incident merged into the side's one: into a foreign one as into one that does not exist
    row("POST", "/api/v1/incidents/{mine}/transitions/",
        "401     403     404     403     200|400 200|400 403", body={"action": "merge", "duplicate_of": "{incident}"}),
    row("POST", "/api/v1/incidents/{mine}/transitions/",
        "401     403     404     403     400     400     403", body={"action": "merge", "duplicate_of": 2147483000}),
    row("POST", "/api/v1/incidents/{accepted}/transitions/",
        "401     403|404 404     403|404 200|404 200|404 403|404",
        body={"action": "dispatch", "assignee": "{assignee}"}),
    # an own incident dispatched to the worker of the side's grid: a foreign worker as one who does not exist
    row("POST", "/api/v1/incidents/{accepted_a}/transitions/",
        "401     403     404     403     200|400 200|400 403", body={"action": "dispatch", "assignee": "{assignee}"}),
    row("POST", "/api/v1/incidents/{accepted_a}/transitions/",
        "401     403     404     403     400     400     403", body={"action": "dispatch", "assignee": "nobody-here"}),
    row("POST", "/api/v1/incidents/{request}/transitions/",
        "401     403|404 200|404 200|404 403|404 403|404 403|404", body={"action": "claim"}),
    row("POST", "/api/v1/incidents/{resolved}/feedback/",
        "401     200|404 404     403|404 403|404 403|404 403|404", body={"rating": 5}),
    row("GET", "/api/v1/notifications/",
        "401     200+    200+    200+    200+    200+    200+", lists="notification"),
    row("POST", "/api/v1/notifications/",
        "401     200     200     200     200     200     200", body={"ids": ["{notification}"]}),
    # -- the register (layers)
    row("GET", "/api/v1/layers/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/layers/places/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/layers/people/?in_bbox={bbox}",
        "401     403     403     200+    200+    200+    200+", lists="person"),
    # a person of a sensitive category (released after sentence): only with clearance
    row("GET", "/api/v1/layers/people/?in_bbox={bbox}",
        "401     403     403     200     200     200+    200", lists="sensitive_person"),
    row("GET", "/api/v1/layers/people/stats/?by=grid",
        "401     403     403     200     200     200     200"),
    row("GET", "/api/v1/layers/incidents/?in_bbox={bbox}",
        "401     200+    200     200+    200+    200+    200+", lists="incident"),
    row("GET", "/api/v1/layers/gig_workers/profile/",
        "401     403     403     200     200     200     200"),
    row("POST", "/api/v1/layers/people/{person}/sensitive/",
        "401     403     403     403     403     200|404 403", body={"reason": "access matrix"}),
    row("GET", f"/api/v1/layers/organizations/nearest/?{AT}",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/audit/",
        "401     403     403     403     403     403     200+", lists="audit"),
    # -- vector tiles: a closed layer is as absent as one that does not exist
    row("GET", "/tiles/incidents/{tile}.mvt",
        "404     200|204 204     200|204 200|204 200|204 200|204"),
    row("GET", "/tiles/people/{tile}.mvt",
        "404     404     404     200|204 200|204 200|204 200|204"),
    row("GET", "/tiles/places/{tile}.mvt",
        "200     200     200     200     200     200     200"),
    # -- exports and imports: a job is its creator's
    row("POST", "/api/v1/exports/",
        "401     201     201     201     201     201     201", body={"layer": "places", "format": "csv"}),
    # narrowed to a foreign area, an export holds what a read of it shows: nothing
    row("POST", "/api/v1/exports/",
        "401     403     403     201     201     201     201",
        body={"layer": "people", "format": "csv", "area": "{area}"}),
    row("GET", "/api/v1/exports/{export}/",
        "401     200|404 200|404 200|404 200|404 200|404 200|404"),
    row("GET", "/api/v1/exports/{export}/download/",
        "401     200|404 200|404 200|404 200|404 200|404 200|404"),
    row("POST", "/api/v1/imports/",
        "401     403     403     403     201     201     403",
        body={"layer": "places", "file": "places.csv"}, multipart=True),
    row("GET", "/api/v1/imports/{import}/",
        "401     200|404 200|404 200|404 200|404 200|404 200|404"),
    # -- cameras
    row("GET", "/api/v1/cameras/?in_bbox={bbox}",
        "401     200     200     200+    200+    200+    200+", lists="camera"),
    row("GET", "/api/v1/cameras/{camera}/",
        "401     404     404     200|404 200|404 200|404 200|404"),
    row("GET", "/api/v1/cameras/{camera}/observations/",
        "401     404     404     200|404 200|404 200|404 200|404"),
    # -- face attendance
    row("GET", "/api/v1/attendance/enrolments/",
        "401     200     200     200+    200+    200+    200+", lists="enrolment"),
    row("GET", "/api/v1/attendance/enrolments/",
        "401     200     200     200     200     200+    200", lists="sensitive_enrolment"),
    row("POST", "/api/v1/attendance/enrolments/",
        "401     403     403     403     400     400     403",
        body={"person": "{person}", "consent": "true"}, multipart=True),
    row("GET", "/api/v1/attendance/enrolments/{enrolment}/",
        "401     404     404     200|404 200|404 200|404 200|404"),
    row("DELETE", "/api/v1/attendance/enrolments/{enrolment}/",
        "401     404     404     403|404 204|404 204|404 403|404"),
    row("GET", "/api/v1/attendance/summary/?period=week",
        "401     200     200     200     200     200     200"),
    row("GET", "/api/v1/attendance/meetings/",
        "401     200     200     200+    200+    200+    200+", lists="meeting"),
    row("GET", "/api/v1/attendance/meetings/{meeting}/",
        "401     404     404     200|404 200|404 200|404 200|404"),
    row("GET", "/api/v1/attendance/meetings/{meeting}/frames/{frame}/",
        "401     404     404     200|404 200|404 200|404 200|404"),
]
# fmt: on
MATRIX += engagement_matrix.ROWS

# URLs the table need not hold: the admin's own pages behind its index, the language switch, static files.
UNLISTED = re.compile(r"^(admin/.|i18n/|static/|media/)")


# ---- the world: the demo county, a second county, and an object of each kind on each side --------------------


@dataclass
class World:
    users: dict[str, User]  # by role; no entry for anonymous
    tokens: dict[str, str]
    ids: dict[str, int | str] = field(default_factory=dict)  # objects by kind and suffix, e.g. "incident_a"
    points: dict[str, Point] = field(default_factory=dict)  # by suffix
    personal: dict[str, dict[str, int]] = field(default_factory=dict)  # per role: its own export, import, notice
    # the audit log is append-only (a trigger refuses deletes): its entries are made in each case, rolled back
    audit_areas: dict[str, int] = field(default_factory=dict)


def _tile(point: Point, *, zoom: int) -> str:
    """The address z/x/y of the web-mercator tile that holds `point`."""
    n = 2**zoom
    lat = math.radians(point.y)
    x = int((point.x + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
    return f"{zoom}/{x}/{y}"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def _seed_categories() -> None:
    # a transactional test elsewhere may have flushed the categories that the data migration seeded
    import_module("grid.migrations.0002_default_categories").add(apps, None)


def _build_world() -> World:
    _seed_categories()
    demo_county_load(scale=1)
    county = AdminArea.objects.get(level=AdminArea.Level.COUNTY)
    street_a = AdminArea.objects.get(name="城关街道")
    street_b = AdminArea.objects.get(name="东城街道")
    worker = User.objects.get(username="worker")
    grid_a = worker.grids.get()
    assert grid_a.community.parent_id == street_a.pk
    grid_b = Grid.objects.filter(community__parent=street_b).order_by("code").first()
    worker_b = User.objects.filter(role=Role.GRID_WORKER, grids=grid_b).first()

    # a second county, far from the first: the foreign area of the county-wide roles
    far = AreaFactory(code="619999", name="外县", level=AdminArea.Level.COUNTY, boundary=box(111.5, 36.5, 111.6, 36.6))
    far_street = AreaFactory(
        code="619999001", name="外县街道", level=AdminArea.Level.STREET, parent=far, boundary=far.boundary
    )
    far_community = AreaFactory(
        code="619999001001", name="外县社区", level=AdminArea.Level.COMMUNITY, parent=far_street, boundary=far.boundary
    )
    grid_x = GridFactory(code="619999001001001", name="外县网格", community=far_community, boundary=far.boundary)
    worker_x = UserFactory(username="m-worker-x", role=Role.GRID_WORKER)
    grid_x.workers.add(worker_x)

    pw = make_password(PASSWORD)
    users = {
        "resident": User.objects.get(username="resident01"),
        "worker": worker,
        "dispatcher": User.objects.get(username="dispatcher"),
        "auditor": User.objects.get(username="auditor"),
        "volunteer": UserFactory(username="m-volunteer", role=Role.GIG_WORKER, volunteer=True),
        "administrator": UserFactory(
            username="m-administrator", role=Role.ADMINISTRATOR, sensitive_clearance=True, areas=[county]
        ),
    }
    users["volunteer"].areas.set([grid_a.community])
    other_dispatcher = UserFactory(username="m-dispatcher-b", role=Role.DISPATCHER, areas=[street_b])
    User.objects.filter(pk__in=[u.pk for u in [*users.values(), other_dispatcher]]).update(password=pw)
    for user in users.values():
        user.refresh_from_db()  # a session keeps a hash of the password: the stored one
    other_resident = User.objects.get(username="resident02")
    world = World(users=users, tokens={role: Token.objects.create(user=u).key for role, u in users.items()})

    grids = {"a": grid_a, "b": grid_b, "x": grid_x}
    assignees = {"a": worker, "b": worker_b, "x": worker_x}
    cameras_made = []
    litter = Category.objects.get(code="litter")
    for s, grid in grids.items():
        point = grid.boundary.point_on_surface
        point.srid = 4326
        world.points[s] = point
        reporter = users["resident"] if s == "a" else other_resident
        made = {
            "incident": IncidentFactory(location=point, reporter=reporter, category=litter),
            "accepted": IncidentFactory(location=point, reporter=reporter, status=Incident.Status.ACCEPTED),
            "request": IncidentFactory(
                location=point,
                reporter=reporter,
                kind=Incident.Kind.REQUEST,
                status=Incident.Status.ACCEPTED,
                open_to_volunteers=True,
            ),
            "resolved": IncidentFactory(location=point, reporter=reporter, status=Incident.Status.RESOLVED),
        }
        photo = IncidentPhoto.objects.create(
            incident=made["incident"],
            image=ContentFile(_jpeg(), name=f"{s}.jpg"),
            thumbnail=ContentFile(_jpeg(), name=f"{s}-t.jpg"),
            content_type="image/jpeg",
            width=8,
            height=8,
            sha256="0" * 64,
        )
        person = Person.objects.create(name=f"矩阵{s}", grid=grid, location=point)
        if s == "a":
            sensitive = Person.objects.create(
                name="矩阵s", grid=grid, location=point, categories=[PersonCategory.RELEASED]
            )
            world.ids["sensitive_person_a"] = sensitive.pk
        Place.objects.create(code=f"M-PLACE-{s}", name=f"矩阵{s}", kind=Place.Kind.OTHER, location=point)
        world.ids.update({f"{kind}_{s}": obj.pk for kind, obj in made.items()})
        world.ids.update({f"photo_{s}": photo.pk, f"person_{s}": person.pk, f"assignee_{s}": assignees[s].username})
        world.ids[f"area_{s}"] = {"a": street_a, "b": street_b, "x": far}[s].code
        world.ids[f"tile_{s}"] = _tile(point, zoom=18)
        world.ids[f"bbox_{s}"] = ",".join(
            f"{v:.6f}" for v in (point.x - 1e-4, point.y - 1e-4, point.x + 1e-4, point.y + 1e-4)
        )
        world.audit_areas[s] = grid.community_id
        cameras_made.append((s, grid, point, person))
    mine = IncidentFactory(location=world.points["a"], reporter=users["resident"], category=litter)
    world.ids["mine"] = mine.pk
    incidents_place()
    WorkerStatus.objects.update_or_create(
        user=worker, defaults={"on_duty": True, "location": world.points["a"], "position_at": timezone.now()}
    )
    WorkerStatus.objects.update_or_create(
        user=worker_b, defaults={"on_duty": True, "location": world.points["b"], "position_at": timezone.now()}
    )
    _vision_objects(world, cameras_made)
    engagement_matrix.build(world, grids)

    # personal objects: the caller's own, and another dispatcher's as the foreign one
    for role, user in [*users.items(), ("other", other_dispatcher)]:
        export = ExportJob.objects.create(
            created_by=user,
            layer="places",
            format="csv",
            status="done",
            file=ContentFile(b"code,name\n", name="places.csv"),
            finished=timezone.now(),
        )
        imported = ImportJob.objects.create(
            created_by=user, layer="places", source=ContentFile(b"code,name\n", name="p.csv"), original_name="p.csv"
        )
        notice = Notification.objects.create(recipient=user, kind="assigned", message="matrix")
        world.personal[role] = {"export": export.pk, "import": imported.pk, "notification": notice.pk}
    return world


def _vision_objects(world: World, sites) -> None:
    for s, grid, point, person in sites:
        camera = Camera.objects.create(
            code=f"M-CAM-{s}", name=f"矩阵{s}", location=point, grid=grid, source_kind="file", source=f"m/{s}"
        )
        now = timezone.now()
        enrolment = FaceEnrolment.objects.create(
            person=person, method="lbph", template_encrypted="-", consent=True, consent_at=now
        )
        meeting = Meeting.objects.create(title=f"矩阵{s}", camera=camera, starts_at=now, ends_at=now)
        frame = Frame.objects.create(camera=camera, purpose="meeting", image=ContentFile(_jpeg(), name=f"{s}.jpg"))
        meeting.frames.add(frame)
        if s == "a":
            sensitive = FaceEnrolment.objects.create(
                person_id=world.ids["sensitive_person_a"],
                method="lbph",
                template_encrypted="-",
                consent=True,
                consent_at=now,
            )
            world.ids["sensitive_enrolment_a"] = sensitive.pk
        world.ids.update(
            {
                f"camera_{s}": camera.pk,
                f"enrolment_{s}": enrolment.pk,
                f"meeting_{s}": meeting.pk,
                f"frame_{s}": frame.pk,
            }
        )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    media = tempfile.mkdtemp(prefix="gridline-matrix-")
    overridden = override_settings(MEDIA_ROOT=media)
    overridden.enable()
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            _clean_up()
            built = _build_world()
        yield built
        with django_db_blocker.unblock(), transaction.atomic():
            _clean_up()
    finally:
        overridden.disable()
        shutil.rmtree(media, ignore_errors=True)


def _clean_up() -> None:
    """Remove the module's county and accounts (also what a run that broke off left behind)."""
    ours = User.objects.filter(username__startswith="m-")
    ExportJob.objects.filter(created_by__in=ours).delete()
    ImportJob.objects.filter(created_by__in=ours).delete()
    demo_county_delete()  # the demo accounts' jobs go with them (SET_NULL), the second county with the areas
    ours.delete()
    ExportJob.objects.filter(created_by=None).delete()
    ImportJob.objects.filter(created_by=None).delete()


# ---- running one case -----------------------------------------------------------------------------------------


def _fill(text: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), text)


def _values(world: World, role: str, side: str) -> dict:
    s = SIDES[role][0 if side in ("own", "-") else 1]
    values = {key.rsplit("_", 1)[0]: value for key, value in world.ids.items() if key.endswith(f"_{s}") and "_" in key}
    point = world.points[s]
    user = world.users.get(role)
    personal = world.personal.get(role if side in ("own", "-") else "other", world.personal["other"])
    values.update(personal)
    values.update(
        {
            "lon": f"{point.x:.6f}",
            "lat": f"{point.y:.6f}",
            "lon_a": f"{world.points['a'].x:.6f}",
            "lat_a": f"{world.points['a'].y:.6f}",
            "mine": world.ids["mine"],
            "accepted_a": world.ids["accepted_a"],
            "username": user.username if user else "nobody",
            "password": PASSWORD,
            "uuid": str(uuid.uuid4()),
        }
    )
    return values


def _body(body, values: dict):
    if isinstance(body, dict):
        return {key: _body(value, values) for key, value in body.items()}
    if isinstance(body, list):
        return [_body(value, values) for value in body]
    if isinstance(body, str) and re.fullmatch(r"\{\w+\}", body):
        value = values[body[1:-1]]
        return value if not isinstance(value, str) or not re.fullmatch(r"-?\d+(\.\d+)?", value) else json.loads(value)
    return _fill(body, values) if isinstance(body, str) else body


def _send(world: World, entry: Row, role: str, side: str):
    values = _values(world, role, side)
    path = _fill(entry.path, values)
    body = _body(entry.body, values) if entry.body is not None else None
    user = world.users.get(role)
    if entry.page:
        client = Client()
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client.generic(
            entry.method,
            path,
            data="&".join(f"{k}={v}" for k, v in (body or {}).items()),
            content_type="application/x-www-form-urlencoded",
        )
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
    if entry.multipart:
        data = dict(body)
        if "file" in data:
            data["file"] = ContentFile(b"code,name,lon,lat\nM-1,matrix,109.9,35.2\n", name=data["file"])
        return client.post(path, data, format="multipart")
    if body is None:
        return client.generic(entry.method, path)
    return client.generic(entry.method, path, json.dumps(body), content_type="application/json")


def _append_audit_entries(world: World, entry: Row, role: str, side: str) -> None:
    """The audit entries a case needs, in its own transaction: the log refuses deletes, so none is kept."""
    if entry.lists == "audit":
        other = User.objects.get(username="m-dispatcher-b")
        for s, area in world.audit_areas.items():
            made = AuditEntry.objects.create(
                actor=other, action=AuditEntry.Action.EXPORT, target="places", area_id=area
            )
            world.ids[f"audit_{s}"] = made.pk
    if "{export}" in entry.path and role in world.users:
        # what the export service records when it writes a file, and what a download is checked against
        values = _values(world, role, side)
        job = ExportJob.objects.get(pk=values["export"])
        details = {"job": job.pk, "layer": job.layer, "scope": "public", "clearance": False}  # places are public
        AuditEntry.objects.create(
            actor=job.created_by, action=AuditEntry.Action.EXPORT, target="places", details=details
        )


def listed_ids(kind: str, response) -> set:
    """The ids of the objects of `kind` an answer lists."""
    data = response.json()
    if kind == "duplicates":
        return {d["id"] for d in data["properties"].get("possible_duplicates") or []}
    rows = data.get("features", data.get("results")) if isinstance(data, dict) else data
    return {r.get("id") for r in rows}


def _cases():
    for number, entry in enumerate(MATRIX):
        for i, role in enumerate(ROLES):
            sides = ("own", "foreign") if entry.two_sided else ("-",)
            for side in sides:
                expect = entry.expect[i].split("|")
                wanted = expect[0] if side in ("own", "-") or len(expect) == 1 else expect[1]
                yield pytest.param(
                    entry, role, side, wanted, id=f"{number:02d}-{entry.method}-{entry.path}-{role}-{side}"
                )


@pytest.mark.parametrize(("entry", "role", "side", "wanted"), list(_cases()))
def test_access_matrix(world, db, entry: Row, role: str, side: str, wanted: str):
    cache.clear()  # the throttles count per account and address: the matrix is many requests from one address
    _append_audit_entries(world, entry, role, side)
    response = _send(world, entry, role, side)
    status = wanted.rstrip("+")
    body = response.content[:300] if response.status_code != int(status) else b""
    assert response.status_code == int(status), f"{entry.method} {entry.path} as {role} ({side}): {body!r}"
    if entry.lists and status.startswith("2"):
        s_own, s_foreign = SIDES[role]
        ids = listed_ids(entry.lists, response)
        kind = entry.lists
        if kind == "notification":
            own_id = world.personal.get(role, {}).get(kind)
            foreign_id = world.personal["other"][kind]
        elif kind == "claimable":
            own_id, foreign_id = world.ids[f"request_{s_own}"], world.ids[f"request_{s_foreign}"]
        elif kind == "duplicates":
            own_id, foreign_id = None, world.ids[f"incident_{s_foreign}"]
        else:
            own_id, foreign_id = world.ids.get(f"{kind}_{s_own}"), world.ids.get(f"{kind}_{s_foreign}")
        assert foreign_id not in ids, f"a foreign {kind} is listed"
        if side in ("own", "-") and own_id is not None and kind != "duplicates":
            assert (own_id in ids) == wanted.endswith("+"), f"own {kind} listed: {own_id in ids}"


# ---- the table covers the URLconf --------------------------------------------------------------------------------

# Stand-ins for a row's placeholders, enough to resolve its path to the URL pattern it exercises.
_PLACEHOLDERS = {
    "incident": 1,
    "photo": 1,
    "accepted": 1,
    "accepted_a": 1,
    "mine": 1,
    "request": 1,
    "resolved": 1,
    "person": 1,
    "camera": 1,
    "enrolment": 1,
    "meeting": 1,
    "frame": 1,
    "export": 1,
    "import": 1,
    "tile": "18/1/1",
    "lon_a": "109.9",
    "lat_a": "35.2",
    "lon": "109.9",
    "lat": "35.2",
    "bbox": "1,1,2,2",
    "area": "610",
    **engagement_matrix.PLACEHOLDERS,
}

HANDLERS = ("get", "post", "put", "patch", "delete")


def _endpoints(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _endpoints(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and not UNLISTED.match(route):
            view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
            if view is None:
                methods = {"GET"}
            elif view.__name__ == "RedirectView":
                methods = {"GET"}  # answers every method alike
            else:
                methods = {m.upper() for m in HANDLERS if hasattr(view, m) and m in view.http_method_names}
                if issubclass(view, ProcessFormView) and view.put is ProcessFormView.put:
                    methods.discard("PUT")  # a form view's PUT is its POST
            for method in methods:
                yield route, method


def test_the_table_has_a_row_for_every_endpoint_and_method_of_the_urlconf():
    covered = {(resolve(_fill(r.path, _PLACEHOLDERS).split("?")[0]).route, r.method) for r in MATRIX}
    missing = sorted(set(_endpoints(get_resolver().url_patterns)) - covered)
    assert missing == []


def test_every_row_names_a_real_endpoint_and_a_known_answer_per_role():
    for entry in MATRIX:
        resolve(_fill(entry.path, _PLACEHOLDERS).split("?")[0])
        for answer in entry.expect:
            assert re.fullmatch(r"\d{3}\+?(\|\d{3})?", answer), (entry.path, answer)
            assert "|" not in answer or entry.two_sided, (entry.path, answer)
        assert entry.lists is None or any(a.endswith("+") for a in entry.expect) or entry.lists == "duplicates"
