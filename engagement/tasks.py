"""Celery tasks of party building: they take primary keys or nothing, re-read state, and call the services."""
