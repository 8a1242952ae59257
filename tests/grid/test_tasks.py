"""Background work through the real broker and a real Celery worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.contrib.gis.geos import Point

from grid.models import Incident, Station
from grid.services import grid_save, incidents_place
from project.celery import app
from tests.factories import IncidentFactory, StationFactory, box


@pytest.fixture
def celery_worker(transactional_db):
    # The worker thread has its own database connection: data must be committed for it to see it.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_saved_boundary_re_places_incidents_through_the_worker(territory, celery_worker):
    incident = IncidentFactory(location=Point(109.92, 35.17, srid=4326))
    station = StationFactory(location=Point(109.92, 35.17, srid=4326))
    incidents_place()
    assert Incident.objects.get(pk=incident.pk).grid == territory.grids["A-S"]
    a_s, a_n = territory.grids["A-S"], territory.grids["A-N"]
    a_s.boundary = box(109.90, 35.15, 109.95, 35.16)
    grid_save(grid=a_s)
    a_n.boundary = box(109.90, 35.16, 109.95, 35.25)
    grid_save(grid=a_n)
    assert wait_until(
        lambda: (
            (Incident.objects.get(pk=incident.pk).grid_id, Station.objects.get(pk=station.pk).grid_id)
            == (a_n.pk, a_n.pk)
        )
    )
