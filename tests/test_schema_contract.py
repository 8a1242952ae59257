"""The OpenAPI schema is the API's contract, checked by schemathesis over every operation of /api/schema/.

For each of four callers (an administrator, a dispatcher of one street, a grid worker, anonymous) every operation
gets valid and invalid inputs generated from the schema, sent in process to the WSGI application over the demo
county, and each answer must be no server error, a documented status code and content type, and a body that
matches the schema of its status. The run is bounded (`SCHEMATHESIS_MAX_EXAMPLES` per operation and mode) and
deterministic; `SCHEMATHESIS_RANDOM=1` explores new inputs on each run.
"""

import os
from collections import defaultdict
from io import StringIO

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grid.models import User

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
RANDOM = os.environ.get("SCHEMATHESIS_RANDOM") == "1"
CALLERS = ["admin", "dispatcher", "worker", None]


def _failures_of(case, response) -> list[str]:
    found = []
    for check in CHECKS:
        try:
            case.validate_response(response, checks=[check])
        except (Failure, FailureGroup) as exc:
            for failure in getattr(exc, "exceptions", [exc]):
                title = getattr(failure, "title", type(failure).__name__)
                lines = [line for line in str(failure).splitlines() if line.strip()]
                found.append(f"{check.__name__}: {response.status_code} {title}: {' '.join(lines[1:3])[:300]}")
    return found


def _probe(operation, mode: GenerationMode, token: Token | None, failures: set[str]) -> None:
    """Send the operation its generated cases and collect every broken check."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def probe(case):
        headers = {}
        if token is not None:
            # DELETE auth/token/ revokes the caller's token: each case starts signed in again
            Token.objects.get_or_create(key=token.key, defaults={"user": token.user})
            headers["Authorization"] = f"Token {token.key}"
        response = case.call(headers=headers)
        failures.update(_failures_of(case, response))

    try:
        probe()
    except Unsatisfiable:
        # an operation without inputs has nothing that can be made invalid
        assert mode == GenerationMode.NEGATIVE


@pytest.mark.parametrize("username", CALLERS, ids=lambda name: name or "anonymous")
def test_every_answer_keeps_to_the_schema(db, request, username):
    # given the demo county and the caller's token
    call_command("load_demo", stdout=StringIO())
    token = Token.objects.get_or_create(user=User.objects.get(username=username))[0] if username else None
    # As Django's test client does: the request signals would close the connection that holds the test's
    # transaction (and with it the demo county).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    request.addfinalizer(lambda: signals.request_started.connect(close_old_connections))
    request.addfinalizer(lambda: signals.request_finished.connect(close_old_connections))
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    failures: dict[str, set[str]] = defaultdict(set)
    operations = 0

    # when every operation gets valid and invalid inputs
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _probe(operation, mode, token, failures[operation.label])

    # then no answer breaks the contract
    assert operations > 40
    failures = {label: found for label, found in failures.items() if found}
    report = "\n".join(f"{label}\n    " + "\n    ".join(sorted(found)) for label, found in sorted(failures.items()))
    assert not failures, f"{len(failures)} operations break the schema as {username or 'anonymous'}:\n{report}"


def test_the_schema_generates_without_warnings(tmp_path):
    # every view declares what it takes and answers: a guessed or colliding operation is a gap in the contract
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/incidents/" in (tmp_path / "schema.yaml").read_text()


def test_every_operation_documents_the_error_answers():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    missing = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            wanted = {"400", "401", "403", "414", "429"} | (
                {"409", "413", "415"} if method in ("post", "put", "patch", "delete") else set()
            )
            if "{" in path or method == "get":
                wanted.add("404")
            if wanted - codes:
                missing[f"{method.upper()} {path}"] = sorted(wanted - codes)
            retry_after = operation["responses"]["429"].get("headers", {})
            assert "Retry-After" in retry_after, f"{method.upper()} {path}"
    assert missing == {}
    assert schema["components"]["schemas"]["Error"]["properties"]["detail"] == {"type": "string"}
