"""Reads of vision: the cameras an account may see (the grid scope, like the register) and their observations."""

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from grid.access import grid_scope_q
from grid.models import User
from vision.models import Camera, Observation


def cameras_for(user: User | AnonymousUser) -> QuerySet[Camera]:
    """The cameras in the user's grids (superusers: all, unplaced ones too; anonymous: none)."""
    return Camera.objects.filter(grid_scope_q(user))


def camera_observations(*, camera: Camera, since: dt.datetime, until: dt.datetime) -> QuerySet[Observation]:
    """The camera's observations with since <= at < until (an inclusive `to` arrives as the next microsecond),
    oldest first (the index on camera, at serves it)."""
    return Observation.objects.filter(camera=camera, at__gte=since, at__lt=until).order_by("at", "pk")
