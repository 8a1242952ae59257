"""Register rows for the layer API tests, placed in the `territory` fixture's grids."""

from django.contrib.gis.geos import Point

from grid.models import Category, Incident
from grid.selectors import placement_of
from layers.models import Person
from layers.services import person_save
from tests.factories import IncidentFactory

# a point inside each grid of the territory (see tests/conftest.py)
IN = {"A-S": (109.92, 35.17), "A-N": (109.92, 35.22), "B-S": (109.97, 35.17), "B-N": (109.97, 35.22)}


def point(grid: str, d: float = 0.0) -> Point:
    lon, lat = IN[grid]
    return Point(lon + d, lat + d, srid=4326)


def person(
    name: str, grid: str, categories: list[str], *, id_card: str = "", phone: str = "", d: float = 0.0, **fields
) -> Person:
    return person_save(
        person=Person(name=name, location=point(grid, d), categories=categories, **fields),
        id_card=id_card or None,
        phone=phone or None,
    )


def incident(grid: str, category: str, d: float = 0.0) -> Incident:
    placement = placement_of(point=point(grid, d))
    cat = Category.objects.get_or_create(code=category, defaults={"name": f"类别{category}"})[0]
    return IncidentFactory(
        location=point(grid, d),
        category=cat,
        grid=placement.grid,
        community=placement.community,
        street=placement.street,
        county=placement.county,
    )
