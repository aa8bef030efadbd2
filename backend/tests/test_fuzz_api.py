"""Property-based fuzzing of every operation in the OpenAPI schema (schemathesis), as an
authorized user whose Zendesk is the simulator (an admin, so /admin is fuzzed past its
403): no 5xx, and every response is documented (status code, content type and body schema).

FUZZ_MAX_EXAMPLES sets the examples per operation (default 25, the same ones every run);
bench/fuzz.sh runs longer with a random seed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from app.main import create_app
from tests.conftest import override_sessions
from tests.factories import UserFactory, configure_zendesk

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
RANDOM_SEED = bool(os.environ.get("FUZZ_RANDOM"))  # bench/fuzz.sh: new examples each run
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# The schema is read once from an app built for the module (collection needs the list of
# operations); each test points that app at its own rolled-back session.
fuzzed_app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


@pytest.fixture
def fuzz_headers(users: UserFactory, db: Session, zendesk_url: str) -> Iterator[dict[str, str]]:
    """A signed-in admin whose Zendesk is the simulator, the app on this test's session."""

    def test_db() -> Iterator[Session]:
        yield db
        db.flush()

    override_sessions(fuzzed_app, test_db)
    user, headers = users.admin()
    configure_zendesk(db, user, zendesk_url)
    yield headers
    fuzzed_app.dependency_overrides.clear()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not RANDOM_SEED,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_fails_and_matches_its_schema(
    case: schemathesis.Case, fuzz_headers: dict[str, str]
) -> None:
    case.call_and_validate(headers=fuzz_headers, checks=CHECKS)
