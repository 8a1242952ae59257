"""The benchmarks' databases: each benchmark runs on a database named by a URL, created with PostGIS when missing.

The URL's role must be allowed to create databases (bootstrap makes the `gridline` role a superuser).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_DATABASE_URL = "postgis://gridline:gridline@localhost:5432/gridline"


def database_url() -> str:
    """The URL that project.settings will use: DATABASE_URL from the environment or the repository's .env."""
    import environ

    environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def pg_parts(url: str) -> dict[str, str]:
    """psycopg's connection keywords for a database URL."""
    u = urlsplit(url)
    return {
        "host": u.hostname or "localhost",
        "port": str(u.port or 5432),
        "dbname": u.path.lstrip("/"),
        "user": unquote(u.username or ""),
        "password": unquote(u.password or ""),
    }


def ensure_database(url: str, say=None) -> None:
    """Create the database of `url` if it does not exist, and the postgis extension in it."""
    import psycopg

    parts = pg_parts(url)
    admin = {k: v for k, v in parts.items() if k != "dbname"}
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [parts["dbname"]]).fetchone():
            if say:
                say(f"creating database {parts['dbname']}")
            conn.execute(f'CREATE DATABASE "{parts["dbname"]}"')
    with psycopg.connect(autocommit=True, **parts) as conn:
        conn.execute("SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis")
