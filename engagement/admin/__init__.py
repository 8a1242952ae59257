"""The admin of party building, one module per part."""

from engagement.admin import activities, community, mall, members, points  # noqa: F401
