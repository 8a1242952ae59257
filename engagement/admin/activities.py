"""The admin of party building: activities."""
