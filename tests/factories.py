"""Factories for the spatial models. Geometry helpers build axis-aligned boxes in lon/lat."""

import uuid

import factory
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from grid.models import AdminArea, Category, Grid, Incident, Role, Station, User


def box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat)), srid=4326)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.RESIDENT
    password = factory.PostGenerationMethodCall("set_password", "pw-123456")

    @factory.post_generation
    def areas(self, create, extracted, **kwargs):
        if create and extracted:
            self.areas.set(extracted)
        if create:
            self.save()


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdminArea

    code = factory.Sequence(lambda n: f"{610500 + n:06d}")
    name = factory.Sequence(lambda n: f"区域{n}")
    level = AdminArea.Level.COUNTY
    boundary = factory.LazyFunction(lambda: box(109.90, 35.15, 110.00, 35.25))


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"G{n:05d}")
    name = factory.Sequence(lambda n: f"网格{n}")
    community = factory.SubFactory(AreaFactory, level=AdminArea.Level.COMMUNITY)
    boundary = factory.LazyFunction(lambda: box(109.90, 35.15, 110.00, 35.25))
    households = 300

    @factory.post_generation
    def workers(self, create, extracted, **kwargs):
        if create and extracted:
            self.workers.set(extracted)


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    kind = Station.Kind.COURIER_STATION
    name = factory.Sequence(lambda n: f"驿站{n}")
    location = factory.LazyFunction(lambda: Point(109.93, 35.19, srid=4326))
    amenities = factory.LazyFunction(lambda: ["water"])
    opening_hours = factory.LazyFunction(
        lambda: {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    client_uuid = factory.LazyFunction(uuid.uuid4)
    # get_or_create: a transactional test's flush removes the categories that migration 0002 seeded.
    category = factory.LazyFunction(
        lambda: Category.objects.get_or_create(code="litter", defaults={"name": "垃圾堆放"})[0]
    )
    location = factory.LazyFunction(lambda: Point(109.93, 35.19, srid=4326))
