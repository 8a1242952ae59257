"""The admin of party building: mall."""
