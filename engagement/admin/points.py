"""The admin of party building: points."""
