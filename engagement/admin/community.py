"""The admin of party building: community."""
