"""The admin: map widgets that load nothing from outside, and writes that go through grid.services."""

import re
import types

import pytest
from django.contrib.gis.geos import MultiPolygon, Point
from django.urls import reverse

from grid.models import AdminArea, Category, Grid, HandlingUnit, Incident, RoutingRule, Station, User
from grid.services import incidents_place
from tests.factories import AreaFactory, GridFactory, IncidentFactory, StationFactory, box

# A URL that leaves the server: a CDN, the OpenStreetMap tile servers, any absolute http(s) reference.
EXTERNAL = re.compile(r"cdn\.|openstreetmap|(?:src|href)=\"(?:https?:)?//", re.IGNORECASE)


def as_widget_value(geometry) -> str:
    """What the admin's OpenLayers widget posts: GeoJSON in the map's projection (web Mercator)."""
    return geometry.transform(3857, clone=True).json


@pytest.fixture
def community(db) -> AdminArea:
    county = AreaFactory(code="610502", level=AdminArea.Level.COUNTY)
    street = AreaFactory(code="610502001", level=AdminArea.Level.STREET, parent=county)
    return AreaFactory(code="610502001001", level=AdminArea.Level.COMMUNITY, parent=street)


@pytest.fixture
def place_now(monkeypatch):
    """Run grid_save's re-placement task in-process when its transaction commits, as a worker would."""
    from grid import tasks

    real = tasks.places_refresh_task
    monkeypatch.setattr(
        tasks, "places_refresh_task", types.SimpleNamespace(delay=lambda **kwargs: real.apply(kwargs=kwargs).get())
    )


@pytest.mark.parametrize(
    "model", ["adminarea", "grid", "station", "incident", "category", "user", "handlingunit", "routingrule"]
)
def test_add_pages_render_without_anything_from_outside(admin_client, community, model):
    response = admin_client.get(reverse(f"admin:grid_{model}_add"))

    assert response.status_code == 200
    html = response.content.decode()
    assert not EXTERNAL.findall(html)


def test_grid_add_page_uses_the_vendored_openlayers_and_no_basemap_by_default(admin_client, community, settings):
    settings.TILE_URL = ""

    html = admin_client.get(reverse("admin:grid_grid_add")).content.decode()

    assert "/static/grid/vendor/ol/ol.js" in html
    assert "/static/grid/vendor/ol/ol.css" in html
    assert "/static/gis/js/OLMapWidget.js" in html
    assert "ol.source.OSM" not in html and "ol.source.XYZ" not in html
    # MapWidget falls back to OpenStreetMap when options.base_layer is empty: ours is an empty layer.
    assert "new ol.layer.Vector({source: new ol.source.Vector()})" in html
    # The empty map opens on the territory (the county's centre), not on Django's default in France.
    assert "options['default_lon'] = 109.95" in html
    assert "options['default_lat'] = 35.2" in html


def test_grid_add_page_draws_the_configured_tiles(admin_client, community, settings):
    settings.TILE_URL = "https://tiles.example.test/{s}/{z}/{x}/{y}.png"
    settings.TILE_ATTRIBUTION = "© Example"

    html = admin_client.get(reverse("admin:grid_grid_add")).content.decode()

    # Leaflet's {s} subdomain placeholder in OpenLayers' spelling, escaped for a JS string.
    assert "ol.source.XYZ" in html
    assert r"https://tiles.example.test/{a\u002Dc}/{z}/{x}/{y}.png" in html
    assert "ol.source.OSM" not in html


def grid_form(community, *, code, name, boundary, **extra) -> dict:
    return {
        "code": code,
        "name": name,
        "community": community.pk,
        "boundary": as_widget_value(boundary),
        "households": 120,
        **extra,
    }


def test_an_overlapping_grid_is_refused_with_the_other_grids_code(admin_client, community):
    GridFactory(code="G-WEST", name="西区", community=community, boundary=box(109.90, 35.15, 109.925, 35.20))

    response = admin_client.post(
        reverse("admin:grid_grid_add"),
        grid_form(community, code="G-NEW", name="新网格", boundary=box(109.92, 35.15, 109.95, 35.20)),
    )

    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert "G-WEST" in " ".join(errors["boundary"])
    assert "G-WEST" in response.content.decode()
    assert not Grid.objects.filter(code="G-NEW").exists()


def test_a_valid_grid_is_saved_through_the_service_and_incidents_are_placed(
    admin_client, community, place_now, django_capture_on_commit_callbacks
):
    GridFactory(code="G-WEST", name="西区", community=community, boundary=box(109.90, 35.15, 109.925, 35.20))
    # An incident reported where no grid was yet: it belongs to the new grid once that is saved.
    incident = IncidentFactory(location=Point(109.94, 35.18, srid=4326))
    incidents_place()
    assert Incident.objects.get(pk=incident.pk).grid is None
    east = box(109.925, 35.15, 109.95, 35.20)  # shares the western grid's edge: touching is allowed

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            reverse("admin:grid_grid_add"), grid_form(community, code="G-EAST", name="东区", boundary=east)
        )

    assert response.status_code == 302, response.context["adminform"].form.errors
    grid = Grid.objects.get(code="G-EAST")
    assert isinstance(grid.boundary, MultiPolygon)
    assert grid.boundary.equals_exact(east, tolerance=1e-9)  # through web Mercator and back
    assert len(callbacks) == 1  # grid_save's re-placement, which a plain model save would not enqueue
    incident.refresh_from_db()
    assert (incident.grid, incident.community) == (grid, community)
    assert incident.street.code == "610502001" and incident.county.code == "610502"


def test_a_station_is_saved_into_the_grid_that_covers_it(admin_client, community):
    grid = GridFactory(community=community, boundary=box(109.90, 35.15, 109.925, 35.20))

    response = admin_client.post(
        reverse("admin:grid_station_add"),
        {
            "kind": Station.Kind.WORKER_HUB,
            "name": "户外劳动者驿站",
            "address": "",
            "location": as_widget_value(Point(109.91, 35.17, srid=4326)),
            "amenities": ["water", "charging"],
            "opening_hours": '{"mon": [["08:00", "20:00"]]}',
            "phone": "",
            "organization_name": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    station = Station.objects.get(name="户外劳动者驿站")
    assert station.grid == grid
    assert station.amenities == ["water", "charging"]
    assert abs(station.location.x - 109.91) < 1e-9 and abs(station.location.y - 35.17) < 1e-9


def test_moving_an_incident_in_the_admin_re_derives_its_grid(admin_client, community):
    west = GridFactory(code="G-WEST", community=community, boundary=box(109.90, 35.15, 109.925, 35.20))
    east = GridFactory(code="G-EAST", community=community, boundary=box(109.925, 35.15, 109.95, 35.20))
    incident = IncidentFactory(location=Point(109.91, 35.17, srid=4326))
    incidents_place()
    incident.refresh_from_db()
    assert incident.grid == west
    url = reverse("admin:grid_incident_change", args=[incident.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}

    data["location"] = as_widget_value(Point(109.94, 35.17, srid=4326))
    # the read-only timeline inline still posts its management form
    data.update({"events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"})
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.grid == east


def test_an_incident_added_in_the_admin_is_reported_like_any_other(admin_client, community):
    GridFactory(code="G-WEST", community=community, boundary=box(109.90, 35.15, 109.95, 35.20))
    url = reverse("admin:grid_incident_add")
    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(
        {
            "category": Category.objects.get(code="litter").pk,
            "kind": "report",
            "note": "电话反映",
            "location": as_widget_value(Point(109.91, 35.17, srid=4326)),
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident = Incident.objects.get(note="电话反映")
    assert incident.grid.code == "G-WEST" and incident.deadline is not None
    assert list(incident.events.values_list("action", flat=True)) == ["report"]


def test_user_admin_edits_role_areas_and_phone(admin_client, community):
    html = admin_client.get(reverse("admin:grid_user_add")).content.decode()

    for field in ("role", "areas", "phone", "volunteer"):
        assert f'name="{field}"' in html


@pytest.mark.parametrize(
    "model", ["adminarea", "grid", "station", "incident", "category", "user", "handlingunit", "routingrule"]
)
def test_change_lists_and_change_pages_render(admin_client, community, model):
    grid = GridFactory(community=community, boundary=box(109.90, 35.15, 109.925, 35.20))
    IncidentFactory(location=Point(109.91, 35.17, srid=4326))
    incidents_place()
    StationFactory(location=Point(109.91, 35.18, srid=4326))
    unit = HandlingUnit.objects.create(name="环卫所", area=community)
    RoutingRule.objects.create(area=community, category=Category.objects.get(code="litter"), unit=unit)
    model_class = {
        "adminarea": AdminArea,
        "grid": Grid,
        "station": Station,
        "incident": Incident,
        "category": Category,
        "user": User,
        "handlingunit": HandlingUnit,
        "routingrule": RoutingRule,
    }[model]
    obj = grid if model == "grid" else model_class.objects.order_by("pk").first()

    listing = admin_client.get(reverse(f"admin:grid_{model}_changelist"))
    change = admin_client.get(reverse(f"admin:grid_{model}_change", args=[obj.pk]))

    assert listing.status_code == 200 and change.status_code == 200
    assert not EXTERNAL.findall(change.content.decode())
