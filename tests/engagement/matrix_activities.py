"""Access-matrix rows of party building: activities (see tests/engagement/matrix.py for the world's objects).

What an activity is (title, kind, branch, time, venue) is public: anybody reads the list, an activity and the
activities layer. Those who run the organizing branch (the side's worker, dispatcher and administrator for branch
a) create, change and cancel it and write its record; those who know the branch (its members, the auditor of its
area, and the runners) read the record and the attendance list; for anybody else the record is as one that does
not exist. Creating for a branch one does not run is a refused input, like one that does not exist.
"""

import io

from django.core.files.base import ContentFile
from PIL import Image

from engagement.models import ActivityMedia
from tests.access_rows import row

ACTIVITY = "/api/v1/engagement/activities/{activity}/"
CREATE = {
    "kind": "theme_day",
    "branch": "{branch}",
    "title": "矩阵新活动",
    "lon": "{lon}",
    "lat": "{lat}",
    "starts_at": "2030-05-01T09:00:00+08:00",
    "ends_at": "2030-05-01T11:00:00+08:00",
    "client_uuid": "{uuid}",
}

# fmt: off
ROWS = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
    row("GET", "/api/v1/engagement/activities/",
        "200     200     200     200     200     200     200"),
    row("GET", "/api/v1/engagement/activities/?mine=1",
        "401     200     200+    200     200     200     200", lists="activity"),
    row("GET", "/api/v1/engagement/activities/?near={lon},{lat}&radius=500",
        "200     200     200     200     200     200     200"),
    row("POST", "/api/v1/engagement/activities/",
        "401     403     403     201|400 201|400 201|400 403", body=CREATE),
    row("GET", ACTIVITY,
        "200     200     200     200     200     200     200"),
    row("PATCH", ACTIVITY,
        "401     403     403     200|403 200|403 200|403 403", body={"title": "矩阵改名"}),
    row("POST", ACTIVITY + "cancel/",
        "401     403     403     200|403 200|403 200|403 403"),
    row("PATCH", ACTIVITY + "record/",
        "401     404     403|404 200|404 200|404 200|404 403|404", body={"minutes": "矩阵纪要"}),
    row("GET", ACTIVITY + "media/",
        "401     404     200|404 200|404 200|404 200|404 200|404"),
    # a file that is neither photo nor video: refused by its type, once the caller may write the record at all
    row("POST", ACTIVITY + "media/",
        "401     404     403|404 415|404 415|404 415|404 403|404", body={"file": "minutes.csv"}, multipart=True),
    row("GET", ACTIVITY + "media/{media}/",
        "401     404     200|404 200|404 200|404 200|404 200|404"),
    row("GET", ACTIVITY + "attendance/",
        "401     404     200|404 200|404 200|404 200|404 200|404"),
    # the pages: activities near me and of my branch; one activity's record, as its API answers
    row("GET", "/m/activities/",
        "302     200     200     200     200     200     200", page=True),
    row("GET", "/m/activities/{activity}/",
        "302     404     200|404 200|404 200|404 200|404 200|404", page=True),
    # the console's activities layer: public
    row("GET", "/api/v1/layers/activities/",
        "200     200     200     200     200     200     200"),
    row("GET", "/tiles/activities/{tile}.mvt",
        "200     200     200     200     200     200     200"),
]
# fmt: on

PLACEHOLDERS: dict[str, object] = {"media": 1}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (180, 20, 20)).save(out, "JPEG")
    return out.getvalue()


def build(world, grids, base) -> None:
    """A photo in the record of each side's activity (`media_s`)."""
    for s, objects in base.items():
        media = ActivityMedia.objects.create(
            activity=objects["activity"],
            kind=ActivityMedia.Kind.PHOTO,
            file=ContentFile(_jpeg(), name=f"matrix-{s}.jpg"),
            thumbnail=ContentFile(_jpeg(), name=f"matrix-{s}-t.jpg"),
            content_type="image/jpeg",
            size=100,
            sha256=f"{s}" * 64,
        )
        world.ids[f"media_{s}"] = media.pk
