"""Security hardening: login rate limits, the request body limit, security headers and JWT
algorithm pinning."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.core.rate_limit import LoginRateLimiter
from app.main import create_app
from app.models import User
from tests.conftest import override_sessions
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.targets import TEST_FAULTS_REDIS_URL, wipe_redis

REDIS_TEST_URL = TEST_FAULTS_REDIS_URL


def login(client: TestClient, email: str, password: str = DEFAULT_PASSWORD) -> httpx.Response:
    return client.post("/auth/login", data={"username": email, "password": password})


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["request_id"] == response.headers["x-request-id"]


# --- login rate limit ----------------------------------------------------------------------
# Limits per (email, client address) pair and per address; slowing, never refusing, per email.


def test_failed_logins_per_email_and_address_are_limited_with_retry_after(
    app: FastAPI, client: TestClient, users: UserFactory
) -> None:
    fast_slowing(app)
    limit = get_settings().login_attempts_per_minute
    user = users.create()
    for _ in range(limit):
        assert login(client, user.email, "wrong-password").status_code == 401
    assert_rate_limited(login(client, user.email, "wrong-password"))
    assert_rate_limited(login(client, user.email))  # even the right password waits
    assert_rate_limited(login(client, user.email.upper()))  # same email, other spelling


def fast_slowing(app: FastAPI, **options: object) -> LoginRateLimiter:
    """The app's limits, with the per-email slowing in hundredths of a second."""
    settings = get_settings()
    limiter = LoginRateLimiter(
        settings.login_attempts_per_minute,
        address_limit=settings.login_attempts_per_address_per_minute,
        slow_after=3,
        slow_base_s=0.05,
        slow_max_s=0.2,
        **options,  # type: ignore[arg-type]
    )
    app.state.login_limiter = limiter
    return limiter


def test_an_attacker_cannot_lock_the_owner_out_only_slow_the_email_down(
    app: FastAPI, users: UserFactory
) -> None:
    fast_slowing(app)
    limit = get_settings().login_attempts_per_minute
    user = users.create()
    with TestClient(app, client=("203.0.113.7", 40000)) as attacker:
        for _ in range(limit):
            assert login(attacker, user.email, "wrong").status_code == 401
        assert_rate_limited(login(attacker, user.email, "wrong"))
        assert_rate_limited(login(attacker, user.email))
    with TestClient(app, client=("198.51.100.1", 40000)) as owner:
        started = time.monotonic()
        response = login(owner, user.email)
        slowed_s = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert slowed_s >= 0.2  # the email's failures from anywhere slow it down


def test_logins_slow_down_progressively_per_email_and_never_refuse() -> None:
    limiter = LoginRateLimiter(100, address_limit=1000, slow_after=3, slow_base_s=0.5)
    delays = [
        limiter.check(email="victim@example.com", client_address=f"203.0.113.{n}").delay_s
        for n in range(1, 10)
    ]
    assert delays == [0, 0, 0, 0.5, 1, 2, 4, 4, 4]
    other = limiter.check(email="someone@example.com", client_address="203.0.113.1")
    assert other.delay_s == 0


def test_a_success_gives_its_try_back_to_every_counter() -> None:
    limiter = LoginRateLimiter(2, address_limit=2, slow_after=0, slow_base_s=1)
    for _ in range(5):
        attempt = limiter.check(email="owner@example.com", client_address="198.51.100.1")
        assert attempt.delay_s == 1  # the first try beyond `slow_after`, every time
        limiter.succeeded(attempt)


def test_failed_logins_per_client_address_are_limited_across_emails(
    app: FastAPI, users: UserFactory
) -> None:
    limit = get_settings().login_attempts_per_address_per_minute
    with TestClient(app, client=("203.0.113.7", 40000)) as attacker:
        for n in range(limit):
            assert login(attacker, f"guess{n}@example.com", "wrong").status_code == 401
        assert_rate_limited(login(attacker, "another@example.com", "wrong"))
    user = users.create()
    with TestClient(app, client=("198.51.100.1", 40000)) as someone_else:
        assert login(someone_else, user.email).status_code == 200


def test_successful_logins_do_not_use_up_the_budget(client: TestClient, users: UserFactory) -> None:
    user = users.create()
    statuses = [
        login(client, user.email).status_code
        for _ in range(get_settings().login_attempts_per_minute + 5)
    ]
    assert set(statuses) == {200}


def app_with(db: Session, **overrides: object) -> FastAPI:
    application = create_app(get_settings().model_copy(update=overrides))

    def test_db() -> Iterator[Session]:
        yield db
        db.flush()

    override_sessions(application, test_db)
    return application


def test_forwarded_for_from_an_untrusted_peer_is_ignored_loopback_included(
    db: Session, users: UserFactory
) -> None:
    """By default no proxy is trusted: rotating X-Forwarded-For from loopback gains nothing."""
    limit = get_settings().login_attempts_per_minute
    user = users.create()
    app = app_with(db)
    fast_slowing(app)
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        for n in range(limit):
            spoofed = {"X-Forwarded-For": f"192.0.2.{n + 1}"}
            response = local.post(
                "/auth/login",
                data={"username": user.email, "password": "wrong"},
                headers=spoofed,
            )
            assert response.status_code == 401
        assert_rate_limited(
            local.post(
                "/auth/login",
                data={"username": user.email, "password": "wrong"},
                headers={"X-Forwarded-For": "192.0.2.200"},
            )
        )


def test_a_configured_proxy_names_the_client_by_its_right_most_untrusted_hop(
    db: Session, users: UserFactory
) -> None:
    limit = get_settings().login_attempts_per_minute
    user = users.create()
    app = app_with(db, forwarded_allow_ips=["10.0.0.0/8"])
    fast_slowing(app)
    with TestClient(app, client=("10.1.2.3", 40000)) as proxy:

        def through_proxy(forwarded_for: str) -> httpx.Response:
            return proxy.post(
                "/auth/login",
                data={"username": user.email, "password": "wrong"},
                headers={"X-Forwarded-For": forwarded_for},
            )

        for n in range(limit):
            # what the client wrote (left) changes; what the proxies saw (right) does not
            assert through_proxy(f"192.0.2.{n + 1}, 203.0.113.9, 10.0.0.7").status_code == 401
        assert_rate_limited(through_proxy("192.0.2.250, 203.0.113.9, 10.0.0.7"))
        assert through_proxy("203.0.113.10, 10.0.0.7").status_code == 401  # another client


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("", []), ("127.0.0.1", ["127.0.0.1"]), (" 10.0.0.0/8, ::1 ", ["10.0.0.0/8", "::1"])],
)
def test_forwarded_allow_ips_setting_is_parsed(value: str, parsed: list[str]) -> None:
    assert Settings(forwarded_allow_ips=value).forwarded_allow_ips == parsed


def test_forwarded_allow_ips_refuses_what_is_not_an_address() -> None:
    with pytest.raises(ValueError, match="FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips="proxy.internal")


@pytest.fixture
def redis_limited_apps(db: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FastAPI]]:
    """Two app instances (two API processes) sharing the test Redis database."""
    direct = redis.Redis.from_url(REDIS_TEST_URL)
    wipe_redis(direct)
    monkeypatch.setattr(get_settings(), "redis_url", REDIS_TEST_URL)

    def test_db() -> Iterator[Session]:
        yield db
        db.flush()

    apps = [create_app(), create_app()]
    for application in apps:
        override_sessions(application, test_db)
    yield apps
    wipe_redis(direct)
    direct.close()


def test_redis_backed_limit_is_shared_by_every_api_process(
    redis_limited_apps: list[FastAPI], users: UserFactory
) -> None:
    limit = get_settings().login_attempts_per_minute
    user = users.create()
    for application in redis_limited_apps:
        fast_slowing(application, redis_url=REDIS_TEST_URL)
    first, second = (TestClient(application) for application in redis_limited_apps)
    for n in range(limit):
        process = first if n % 2 else second
        assert login(process, user.email, "wrong").status_code == 401
    assert_rate_limited(login(first, user.email, "wrong"))
    assert_rate_limited(login(second, user.email, "wrong"))
    assert redis.Redis.from_url(REDIS_TEST_URL).keys("triage:login:pair:*")  # counted there
    with TestClient(redis_limited_apps[1], client=("198.51.100.1", 40000)) as owner:
        started = time.monotonic()
        assert login(owner, user.email).status_code == 200  # the owner is not locked out
        assert time.monotonic() - started >= 0.2  # but slowed, by the shared email counter


# --- request body limit --------------------------------------------------------------------


def test_body_over_the_limit_by_content_length_is_413(client: TestClient) -> None:
    limit = get_settings().max_request_body_bytes
    response = client.post(
        "/auth/register",
        content=b"{" + b" " * limit + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert str(limit) in error["message"]
    assert error["request_id"] == response.headers["x-request-id"]


def test_chunked_body_over_the_limit_is_413_while_streaming(
    client: TestClient, users: UserFactory
) -> None:
    _, headers = users.authed()
    chunks_sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal chunks_sent
        for _ in range(1000):  # 64 MiB if nobody stopped reading
            chunks_sent += 1
            yield b" " * 65536

    response = client.put(
        "/settings/", content=endless(), headers={**headers, "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # really chunked
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_oversized_login_form_is_413(client: TestClient) -> None:
    def form() -> Iterator[bytes]:
        yield b"username=a%40example.com&password="
        for _ in range(40):
            yield b"x" * 65536

    response = client.post(
        "/auth/login",
        content=form(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


def test_body_under_the_limit_is_accepted(client: TestClient, users: UserFactory) -> None:
    _, headers = users.authed()
    padded = json.dumps({"tag_prefix": "triage"}) + " " * 500_000
    response = client.put(
        "/settings/", content=padded, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


# --- headers -------------------------------------------------------------------------------


def test_api_responses_carry_security_headers(client: TestClient) -> None:
    for response in (client.get("/health"), client.get("/no-such-route")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # not in development


def _csp_sources(policy: str, directive: str) -> list[str]:
    for part in policy.split(";"):
        name, *sources = part.split()
        if name == directive:
            return sources
    return []


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_csp_allows_exactly_what_the_page_loads(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    for url in re.findall(r'<script[^>]+src="(https://[^"]+)"', response.text):
        origin = "/".join(url.split("/", 3)[:3])
        assert origin in _csp_sources(policy, "script-src"), url
    for url in re.findall(r'<link[^>]+href="(https://[^"]+)"', response.text):
        origin = "/".join(url.split("/", 3)[:3])
        allowed = _csp_sources(policy, "style-src") + _csp_sources(policy, "img-src")
        assert origin in allowed, url
    assert "'unsafe-inline'" in _csp_sources(policy, "script-src")  # the inline bootstrap
    assert _csp_sources(policy, "frame-ancestors") == ["'none'"]


def test_hsts_only_in_production() -> None:
    production = Settings(
        env="production",
        secret_key="p" * 48,
        encryption_keys=get_settings().encryption_keys,
        database_url="sqlite://",
    )
    with TestClient(create_app(production)) as client:
        response = client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_cors_allows_only_configured_origins(client: TestClient) -> None:
    allowed = get_settings().cors_origins[0]
    preflight = {"Access-Control-Request-Method": "GET"}
    ok = client.options("/auth/me", headers={"Origin": allowed, **preflight})
    assert ok.headers["access-control-allow-origin"] == allowed
    denied = client.options("/auth/me", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in denied.headers


# --- JWT -----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user: User) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "sub": str(user.id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "typ": "access",
        "tk": user.token_key,
    }


def _hand_made(header: dict[str, object], claims: dict[str, object], key: bytes) -> str:
    """Sign with HMAC-SHA256 whatever the header says (PyJWT refuses to build these)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def forged_tokens(user: User, key: rsa.RSAPrivateKey) -> dict[str, str]:
    claims = _claims(user)
    secret = get_settings().secret_key
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "alg-none": _unsigned({"alg": "none", "typ": "JWT"}, claims),
        "alg-None": _unsigned({"alg": "None"}, claims),
        "rs256-own-key": jwt.encode(claims, key, algorithm="RS256"),
        "hs256-signed-with-public-key": _hand_made(
            {"alg": "HS256", "typ": "JWT"}, claims, public_pem
        ),
        "rs256-header-hmac-signature": _hand_made(
            {"alg": "RS256", "typ": "JWT"}, claims, secret.encode()
        ),
        "hs512-real-secret": jwt.encode(claims, secret, algorithm="HS512"),
        "not-an-access-token": jwt.encode({**claims, "typ": "refresh"}, secret, "HS256"),
        "no-expiry": jwt.encode(
            {key: value for key, value in claims.items() if key != "exp"}, secret, "HS256"
        ),
    }


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # the HS512 token, on purpose
@pytest.mark.parametrize(
    "kind",
    [
        "alg-none",
        "alg-None",
        "rs256-own-key",
        "hs256-signed-with-public-key",
        "rs256-header-hmac-signature",
        "hs512-real-secret",
        "not-an-access-token",
        "no-expiry",
    ],
)
def test_forged_or_confused_tokens_are_rejected(
    client: TestClient, users: UserFactory, rsa_key: rsa.RSAPrivateKey, kind: str
) -> None:
    user = users.create()
    token = forged_tokens(user, rsa_key)[kind]
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_correctly_signed_hand_made_token_is_accepted(
    client: TestClient, users: UserFactory
) -> None:
    """The forged-token cases fail for the right reason: the same recipe with the real key
    and algorithm works."""
    user = users.create()
    token = _hand_made(
        {"alg": "HS256", "typ": "JWT"}, _claims(user), get_settings().secret_key.encode()
    )
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_of_a_deactivated_user_is_rejected(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    user.is_active = False
    db.flush()
    assert client.get("/auth/me", headers=headers).status_code == 401
    assert client.get("/tickets/", headers=headers).status_code == 401


def test_token_of_a_deleted_user_is_rejected_everywhere(
    client: TestClient, users: UserFactory, db: Session
) -> None:
    user, headers = users.authed()
    db.delete(user)
    db.flush()
    for path in ("/auth/me", "/tickets/", "/settings/"):
        assert client.get(path, headers=headers).status_code == 401, path
