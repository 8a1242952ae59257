"""Shared fixtures, among them a small territory: one county, two streets, one community each, two grids per community.

35.25 ┌─────────┬─────────┐
      │  A-N    │   B-N   │      street A = community A (west), street B = community B (east)
35.20 ├─────────┼─────────┤      every inner edge and the centre point are shared by grids
      │  A-S    │   B-S   │
35.15 └─────────┴─────────┘
   109.90    109.95    110.00
"""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from grid.models import AdminArea, Grid, Role
from tests.factories import AreaFactory, GridFactory, UserFactory, box


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as():
    """api_as(user) → an APIClient authenticated as that user by token, as a phone would be."""
    from rest_framework.authtoken.models import Token

    def make(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@dataclass
class Territory:
    county: AdminArea
    street_a: AdminArea
    street_b: AdminArea
    community_a: AdminArea
    community_b: AdminArea
    grids: dict[str, Grid]


@pytest.fixture
def territory(db) -> Territory:
    county = AreaFactory(
        code="610527", name="测试县", level=AdminArea.Level.COUNTY, boundary=box(109.90, 35.15, 110.00, 35.25)
    )
    street_a = AreaFactory(
        code="610527001",
        name="甲街道",
        level=AdminArea.Level.STREET,
        parent=county,
        boundary=box(109.90, 35.15, 109.95, 35.25),
    )
    street_b = AreaFactory(
        code="610527002",
        name="乙镇",
        level=AdminArea.Level.STREET,
        parent=county,
        boundary=box(109.95, 35.15, 110.00, 35.25),
    )
    community_a = AreaFactory(
        code="610527001001", name="甲社区", level=AdminArea.Level.COMMUNITY, parent=street_a, boundary=street_a.boundary
    )
    community_b = AreaFactory(
        code="610527002001", name="乙村", level=AdminArea.Level.COMMUNITY, parent=street_b, boundary=street_b.boundary
    )
    grids = {
        "A-S": GridFactory(code="G-A-S", community=community_a, boundary=box(109.90, 35.15, 109.95, 35.20)),
        "A-N": GridFactory(code="G-A-N", community=community_a, boundary=box(109.90, 35.20, 109.95, 35.25)),
        "B-S": GridFactory(code="G-B-S", community=community_b, boundary=box(109.95, 35.15, 110.00, 35.20)),
        "B-N": GridFactory(code="G-B-N", community=community_b, boundary=box(109.95, 35.20, 110.00, 35.25)),
    }
    return Territory(county, street_a, street_b, community_a, community_b, grids)


@pytest.fixture
def people(territory):
    """One account of each role, scoped to the territory's parts."""
    worker = UserFactory(username="worker-as", role=Role.GRID_WORKER)
    territory.grids["A-S"].workers.add(worker)
    return {
        "worker": worker,
        "dispatcher_a": UserFactory(username="disp-a", role=Role.DISPATCHER, areas=[territory.community_a]),
        "dispatcher_street_b": UserFactory(username="disp-b", role=Role.DISPATCHER, areas=[territory.street_b]),
        "admin": UserFactory(username="admin-county", role=Role.ADMINISTRATOR, areas=[territory.county]),
        "auditor": UserFactory(username="auditor", role=Role.AUDITOR, areas=[territory.county]),
        "resident": UserFactory(username="resident", role=Role.RESIDENT),
    }
