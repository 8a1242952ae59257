"""`manage.py check --deploy` in production mode: clean with real secrets, refusing with missing or public ones.

Each run is a fresh process, so that settings are read from its environment as a server would read them.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def real_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FIELD_HASH_KEY": secrets.token_urlsafe(32),
    }


def run(args: list[str], tmp_path, **variables) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FIELD_HASH_KEY"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PRODUCTION": "1",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "gridline.example",
        "LOG_DIR": str(tmp_path),
    }
    env |= {k: v for k, v in variables.items() if v is not None}
    for name, value in variables.items():
        if value is None:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def findings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("?: (", "WARNINGS", "ERRORS"))]


def test_check_deploy_with_real_secrets_finds_nothing(tmp_path):
    result = run(["manage.py", "check", "--deploy"], tmp_path, **real_secrets())
    assert result.returncode == 0, result.stderr
    assert findings(result.stdout + result.stderr) == []


@pytest.mark.parametrize(
    "changed, named",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": "change-me-in-production"}, "SECRET_KEY"),
        ({"SECRET_KEY": "gridline-local-demo-key-change-me-in-production-0123456789abcdef"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short-but-random-7f3a"}, "SECRET_KEY"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}, "FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_HASH_KEY": None}, "FIELD_HASH_KEY"),
        ({"FIELD_HASH_KEY": "change-me-in-production"}, "FIELD_HASH_KEY"),
        ({"FIELD_HASH_KEY": "0123456789"}, "FIELD_HASH_KEY"),
    ],
)
def test_check_deploy_refuses_a_missing_or_public_secret_and_names_it(tmp_path, changed, named):
    result = run(["manage.py", "check", "--deploy"], tmp_path, **(real_secrets() | changed))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert [line for line in findings(output) if "gridline.E" in line and named in line], output


def test_the_field_hash_key_must_not_reuse_the_secret_key(tmp_path):
    keys = real_secrets()
    result = run(["manage.py", "check"], tmp_path, **(keys | {"FIELD_HASH_KEY": keys["SECRET_KEY"]}))
    assert result.returncode != 0 and "gridline.E003" in result.stdout + result.stderr


def test_the_wsgi_server_refuses_to_start_on_a_public_secret(tmp_path):
    ok = run(["-c", "import project.wsgi"], tmp_path, **real_secrets())
    assert ok.returncode == 0, ok.stderr
    refused = run(
        ["-c", "import project.wsgi"], tmp_path, **(real_secrets() | {"SECRET_KEY": "change-me-in-production"})
    )
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and "SECRET_KEY" in refused.stderr


def test_without_production_the_demo_runs_on_derived_keys(tmp_path):
    result = run(
        ["manage.py", "check"],
        tmp_path,
        PRODUCTION="0",
        SECRET_KEY=None,
        FIELD_ENCRYPTION_KEYS=None,
        FIELD_HASH_KEY=None,
    )
    assert result.returncode == 0, result.stderr
    assert "gridline.E" not in result.stdout + result.stderr
