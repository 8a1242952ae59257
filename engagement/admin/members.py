"""The admin of party building: members."""
