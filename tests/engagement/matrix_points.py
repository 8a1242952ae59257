"""Access-matrix rows of party building: points (see tests/engagement/matrix.py for the world's objects)."""

from tests.access_rows import row  # noqa: F401

# fmt: off
ROWS = [
    # row(method, path,
    #    anon    resident volunt. worker  dispat. admin   auditor
]
# fmt: on

PLACEHOLDERS: dict[str, object] = {}


def build(world, grids, base) -> None:
    """This part's own objects, as `world.ids` entries "<kind>_<side>"."""
