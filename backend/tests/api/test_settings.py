"""The settings API: profile, integration settings with masked secrets, status and connection
tests against the Zendesk and OpenAI simulators over real HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts import crypto
from app.analysis import cascade
from app.config import get_settings
from app.models import User
from sandbox.openai_sim import OpenAISimulator
from sandbox.zendesk import DEFAULT_API_TOKEN, DEFAULT_EMAIL, ZendeskSimulator
from tests.factories import UserFactory

UNREACHABLE_URL = "http://127.0.0.1:9"
ZENDESK_TOKEN = "zd-token-0123456789abcdef"
WEBHOOK_SECRET = "whsec-0123456789abcdef"
OPENAI_KEY = "sk-proj-secret-0123456789abcd"

Account = tuple[User, dict[str, str]]


@pytest.fixture
def account(users: UserFactory) -> Account:
    return users.authed()


def put(client: TestClient, headers: dict[str, str], **changes: Any) -> Response:
    return client.put("/settings/", json=changes, headers=headers)


def get(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/settings/", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- reading and writing ---------------------------------------------------------------------


def test_get_returns_profile_defaults_and_webhook_url(client: TestClient, account: Account) -> None:
    user, headers = account
    body = get(client, headers)
    assert body["profile"] == {"email": user.email, "full_name": None, "timezone": "UTC"}
    integration = body["integration"]
    assert integration["zendesk_url"] is None
    for name in ("zendesk_api_token", "zendesk_webhook_secret", "openai_api_key"):
        assert integration[name] == {"is_set": False, "masked": None}
    assert integration["analysis_mode"] == "auto"
    assert integration["tag_prefix"] == "ai"
    assert integration["polling_interval_s"] == 300
    assert integration["sandbox_in_use"] is False  # SANDBOX_ENABLED=false in tests
    base = get_settings().public_base_url.rstrip("/")
    assert integration["webhook_url"].startswith(f"{base}/webhooks/zendesk/")
    assert get(client, headers)["integration"]["webhook_url"] == integration["webhook_url"]


def test_requires_authentication(client: TestClient) -> None:
    assert client.get("/settings/").status_code == 401
    assert client.put("/settings/", json={"full_name": "x"}).status_code == 401
    assert client.post("/settings/zendesk/test").status_code == 401


def test_put_changes_only_the_fields_sent(client: TestClient, account: Account) -> None:
    _, headers = account
    first = put(
        client,
        headers,
        full_name="Ada Lovelace",
        timezone="Europe/Berlin",
        zendesk_url="acme",
        zendesk_email="ops@acme-support.com",
        tag_prefix="triage",
        write_note=False,
        polling_enabled=True,
        polling_interval_s=600,
        analysis_mode="cascade",
    )
    assert first.status_code == 200, first.text
    second = put(client, headers, write_tags=False)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body == get(client, headers)
    assert body["profile"]["full_name"] == "Ada Lovelace"
    assert body["profile"]["timezone"] == "Europe/Berlin"
    integration = body["integration"]
    assert integration["zendesk_url"] == "https://acme.zendesk.com"
    assert integration["zendesk_email"] == "ops@acme-support.com"
    assert integration["tag_prefix"] == "triage"
    assert (integration["write_tags"], integration["write_note"]) == (False, False)
    assert integration["reply_draft"] is True
    assert integration["polling_enabled"] is True
    assert integration["polling_interval_s"] == 600
    assert integration["analysis_mode"] == "cascade"


def test_settings_answer_without_the_trailing_slash_too(
    client: TestClient, account: Account, app: FastAPI
) -> None:
    _, headers = account
    response = client.put(
        "/settings", json={"timezone": "Europe/Berlin"}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 200, response.text
    assert response.json()["profile"]["timezone"] == "Europe/Berlin"
    read = client.get("/settings", headers=headers, follow_redirects=False)
    assert read.status_code == 200, read.text
    assert read.json() == get(client, headers)
    invalid = client.put("/settings", json={"timezone": "localtime"}, headers=headers)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["message"] == (
        "timezone: 'localtime' is not an IANA time zone such as 'Europe/Berlin'"
    )
    paths = app.openapi()["paths"]
    assert set(paths["/settings/"]) == {"get", "put"} and "/settings" not in paths


def test_secrets_are_masked_never_returned_in_full(client: TestClient, account: Account) -> None:
    _, headers = account
    response = put(
        client,
        headers,
        zendesk_api_token=ZENDESK_TOKEN,
        zendesk_webhook_secret=WEBHOOK_SECRET,
        openai_api_key=OPENAI_KEY,
    )
    assert response.status_code == 200, response.text
    for secret in (ZENDESK_TOKEN, WEBHOOK_SECRET, OPENAI_KEY):
        assert secret not in response.text
        assert secret not in client.get("/settings/", headers=headers).text
    integration = response.json()["integration"]
    assert integration["openai_api_key"] == {"is_set": True, "masked": "sk-…abcd"}
    assert integration["zendesk_api_token"] == {"is_set": True, "masked": "zd-…cdef"}
    assert integration["zendesk_webhook_secret"] == {"is_set": True, "masked": "…cdef"}


@pytest.mark.parametrize("secret", ["ab", "sk-abc", "whsec-12345", "whsec-123456789"])
def test_short_secrets_are_masked_entirely(
    client: TestClient, account: Account, secret: str
) -> None:
    _, headers = account
    response = put(client, headers, zendesk_webhook_secret=secret, openai_api_key=secret)
    assert response.status_code == 200, response.text
    for body in (response.json(), get(client, headers)):
        integration = body["integration"]
        assert integration["zendesk_webhook_secret"] == {"is_set": True, "masked": "…"}
        assert integration["openai_api_key"] == {"is_set": True, "masked": "…"}


def test_secrets_are_encrypted_at_rest(client: TestClient, account: Account, db: Session) -> None:
    user, headers = account
    assert (
        put(
            client,
            headers,
            zendesk_api_token=ZENDESK_TOKEN,
            zendesk_webhook_secret=WEBHOOK_SECRET,
            openai_api_key=OPENAI_KEY,
        ).status_code
        == 200
    )
    row = (
        db.execute(
            text("SELECT * FROM integration_settings WHERE user_id = :user_id"),
            {"user_id": user.id},
        )
        .mappings()
        .one()
    )
    stored = " ".join(str(value) for value in row.values())
    for secret in (ZENDESK_TOKEN, WEBHOOK_SECRET, OPENAI_KEY):
        assert secret not in stored
    assert crypto.decrypt(row["openai_api_key_encrypted"]) == OPENAI_KEY
    assert crypto.decrypt(row["zendesk_api_token_encrypted"]) == ZENDESK_TOKEN
    assert crypto.decrypt(row["zendesk_webhook_secret_encrypted"]) == WEBHOOK_SECRET


def test_null_or_empty_string_clears_a_secret(
    client: TestClient, account: Account, db: Session
) -> None:
    user, headers = account
    put(client, headers, openai_api_key=OPENAI_KEY, zendesk_api_token=ZENDESK_TOKEN)
    response = put(client, headers, openai_api_key=None)
    assert response.status_code == 200, response.text
    integration = response.json()["integration"]
    assert integration["openai_api_key"] == {"is_set": False, "masked": None}
    assert integration["zendesk_api_token"]["is_set"] is True  # untouched
    response = put(client, headers, zendesk_api_token="")
    assert response.json()["integration"]["zendesk_api_token"] == {"is_set": False, "masked": None}
    stored = db.execute(
        text(
            "SELECT openai_api_key_encrypted, zendesk_api_token_encrypted "
            "FROM integration_settings WHERE user_id = :id"
        ),
        {"id": user.id},
    ).one()
    assert tuple(stored) == (None, None)


def test_secrets_and_settings_never_reach_the_logs(
    client: TestClient,
    account: Account,
    caplog: pytest.LogCaptureFixture,
    zendesk_url: str,
    openai_base_url: str,
) -> None:
    _, headers = account
    with caplog.at_level(logging.DEBUG):
        put(
            client,
            headers,
            zendesk_url=zendesk_url,
            zendesk_email=DEFAULT_EMAIL,
            zendesk_api_token=ZENDESK_TOKEN,
            zendesk_webhook_secret=WEBHOOK_SECRET,
            openai_api_key=OPENAI_KEY,
            openai_base_url=openai_base_url,
        )
        client.post("/settings/zendesk/test", headers=headers)
        client.post("/settings/openai/test", headers=headers)
    for secret in (ZENDESK_TOKEN, WEBHOOK_SECRET, OPENAI_KEY):
        assert secret not in caplog.text


def test_retirement_warning_for_a_model_with_a_shutdown_date(
    client: TestClient, account: Account
) -> None:
    _, headers = account
    body = put(client, headers, openai_model="gpt-4o-mini").json()
    assert body["integration"]["openai_model_shutdown_date"] == "2027-01-14"
    assert "2027-01-14" in body["warnings"][0]
    body = put(client, headers, openai_model="gpt-4.1-mini").json()
    assert body["integration"]["openai_model_shutdown_date"] is None
    assert body["warnings"] == []


def test_each_user_sees_only_their_own_settings(client: TestClient, users: UserFactory) -> None:
    alice, alice_headers = users.authed()
    bob, bob_headers = users.authed()
    put(client, alice_headers, full_name="Alice", openai_api_key=OPENAI_KEY, tag_prefix="alice")
    bob_view = get(client, bob_headers)
    assert bob_view["profile"]["email"] == bob.email
    assert bob_view["profile"]["full_name"] is None
    assert bob_view["integration"]["openai_api_key"]["is_set"] is False
    assert bob_view["integration"]["tag_prefix"] == "ai"
    alice_view = get(client, alice_headers)
    assert alice_view["profile"]["email"] == alice.email
    assert alice_view["integration"]["webhook_url"] != bob_view["integration"]["webhook_url"]
    status = client.get("/settings/integrations/status", headers=bob_headers).json()
    assert status["openai"]["configured"] is False
    response = client.post("/settings/openai/test", headers=bob_headers)
    assert response.status_code == 400


def test_get_shows_the_cascade_defaults(client: TestClient, account: Account) -> None:
    _, headers = account
    assert get(client, headers)["cascade"] == {
        "target_precision": 0.95,
        "learn_from_llm": False,
        "use_llm_batch_api": False,
    }


def test_put_changes_only_the_cascade_options_sent(
    client: TestClient, account: Account, db: Session
) -> None:
    user, headers = account
    first = put(client, headers, target_precision=0.9, use_llm_batch_api=True, write_note=False)
    assert first.status_code == 200, first.text
    second = put(client, headers, learn_from_llm=True)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body == get(client, headers)
    assert body["cascade"] == {
        "target_precision": 0.9,
        "learn_from_llm": True,
        "use_llm_batch_api": True,
    }
    assert body["integration"]["write_note"] is False
    stored = db.execute(
        text(
            "SELECT target_precision, learn_from_llm, use_llm_batch_api "
            "FROM cascade_settings WHERE user_id = :id"
        ),
        {"id": user.id},
    ).one()
    assert tuple(stored) == (0.9, True, True)
    context = cascade.context_for(user.id, db=db)
    assert (context.target_precision, context.use_llm_batch_api) == (0.9, True)


def test_target_precision_accepts_the_bounds(client: TestClient, account: Account) -> None:
    _, headers = account
    for value in (cascade.MIN_TARGET_PRECISION, cascade.MAX_TARGET_PRECISION):
        response = put(client, headers, target_precision=value)
        assert response.status_code == 200, response.text
        assert response.json()["cascade"]["target_precision"] == value


def test_target_precision_rejects_nan_and_infinity(client: TestClient, account: Account) -> None:
    _, headers = account
    before = get(client, headers)
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = client.put(
            "/settings/",
            content=f'{{"target_precision": {literal}}}',
            headers={**headers, "content-type": "application/json"},
        )
        assert response.status_code == 422, (literal, response.text)
    assert get(client, headers) == before


def test_cascade_options_are_per_user(client: TestClient, users: UserFactory, db: Session) -> None:
    alice, alice_headers = users.authed()
    bob, bob_headers = users.authed()
    put(client, alice_headers, target_precision=0.8, learn_from_llm=True, use_llm_batch_api=True)
    assert get(client, bob_headers)["cascade"] == {
        "target_precision": 0.95,
        "learn_from_llm": False,
        "use_llm_batch_api": False,
    }
    put(client, bob_headers, target_precision=0.7)
    assert get(client, alice_headers)["cascade"]["target_precision"] == 0.8
    assert cascade.context_for(bob.id, db=db).use_llm_batch_api is False
    assert cascade.context_for(alice.id, db=db).target_precision == 0.8


# --- validation ----------------------------------------------------------------------------


INVALID_CHANGES: list[tuple[dict[str, Any], str]] = [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"timezone": None}, "timezone"),
    ({"timezone": "localtime"}, "timezone"),
    ({"zendesk_url": "not a subdomain!"}, "zendesk_url"),
    ({"zendesk_url": "ftp://acme.zendesk.com"}, "zendesk_url"),
    ({"zendesk_url": "http://acme.example:99999"}, "zendesk_url"),
    ({"zendesk_email": "not-an-email"}, "zendesk_email"),
    ({"openai_model": ""}, "openai_model"),
    ({"openai_model": "m" * 101}, "openai_model"),
    ({"openai_model": None}, "openai_model"),
    ({"openai_base_url": "ftp://models.example.com"}, "openai_base_url"),
    ({"openai_base_url": "not a url"}, "openai_base_url"),
    ({"openai_base_url": "https://user:pass@models.example.com"}, "openai_base_url"),
    ({"analysis_mode": "magic"}, "analysis_mode"),
    ({"analysis_mode": None}, "analysis_mode"),
    ({"write_tags": "yes"}, "write_tags"),
    ({"write_note": None}, "write_note"),
    ({"reply_draft": 1}, "reply_draft"),
    ({"redact_pii": "false"}, "redact_pii"),
    ({"polling_enabled": None}, "polling_enabled"),
    ({"tag_prefix": "AI"}, "tag_prefix"),
    ({"tag_prefix": "9lives"}, "tag_prefix"),
    ({"tag_prefix": "with-dash"}, "tag_prefix"),
    ({"tag_prefix": "a" * 32}, "tag_prefix"),
    ({"tag_prefix": None}, "tag_prefix"),
    ({"polling_interval_s": 59}, "polling_interval_s"),
    ({"polling_interval_s": 86_401}, "polling_interval_s"),
    ({"polling_interval_s": "300"}, "polling_interval_s"),
    ({"full_name": "Ada\x00"}, "full_name"),
    ({"full_name": "x" * 201}, "full_name"),
    ({"timezone": "UTC\x00"}, "timezone"),
    ({"zendesk_url": "acme\x00"}, "zendesk_url"),
    ({"zendesk_email": "ops\x00@acme-support.com"}, "zendesk_email"),
    ({"openai_api_key": "sk-\x00abc"}, "openai_api_key"),
    ({"zendesk_api_token": "abc\x00"}, "zendesk_api_token"),
    ({"zendesk_webhook_secret": "s\x00"}, "zendesk_webhook_secret"),
    ({"openai_model": "gpt\x00"}, "openai_model"),
    ({"openai_base_url": "http://models.example.com/\x00"}, "openai_base_url"),
    ({"tag_prefix": "ai\x00"}, "tag_prefix"),
    ({"openai_api_key": "sk-…abcd"}, "openai_api_key"),
    ({"openai_api_key": "sk-with space"}, "openai_api_key"),
    ({"openai_api_key": {"is_set": True, "masked": "sk-…abcd"}}, "openai_api_key"),
    ({"unknown_setting": 1}, "unknown_setting"),
    ({"target_precision": 0.49}, "target_precision"),
    ({"target_precision": 0.999}, "target_precision"),
    ({"target_precision": 1}, "target_precision"),
    ({"target_precision": -0.9}, "target_precision"),
    ({"target_precision": "0.9"}, "target_precision"),
    ({"target_precision": True}, "target_precision"),
    ({"target_precision": None}, "target_precision"),
    ({"write_tags": False, "target_precision": 1.5}, "target_precision"),
    ({"learn_from_llm": "true"}, "learn_from_llm"),
    ({"learn_from_llm": 1}, "learn_from_llm"),
    ({"learn_from_llm": None}, "learn_from_llm"),
    ({"use_llm_batch_api": "yes"}, "use_llm_batch_api"),
    ({"use_llm_batch_api": 0}, "use_llm_batch_api"),
    ({"use_llm_batch_api": None}, "use_llm_batch_api"),
]


def test_invalid_values_are_rejected_with_422_and_change_nothing(
    client: TestClient, account: Account
) -> None:
    _, headers = account
    before = get(client, headers)
    for changes, field in INVALID_CHANGES:
        response = put(client, headers, **changes)
        assert response.status_code == 422, (changes, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error", changes
        assert error["message"].startswith(f"{field}:"), (changes, error["message"])
    assert get(client, headers) == before


def test_zendesk_url_accepts_subdomain_host_or_url(client: TestClient, account: Account) -> None:
    _, headers = account
    for given, stored in [
        ("acme", "https://acme.zendesk.com"),
        ("support.acme.com", "https://support.acme.com"),
        ("https://acme.zendesk.com/api/v2/", "https://acme.zendesk.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ]:
        response = put(client, headers, zendesk_url=given)
        assert response.status_code == 200, response.text
        assert response.json()["integration"]["zendesk_url"] == stored
    rejected = put(client, headers, zendesk_url="bad_subdomain")
    assert rejected.status_code == 422
    message = rejected.json()["error"]["message"]
    assert "is not valid: use letters, digits and inner hyphens" in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:s3cret@acme.zendesk.com", "must not contain credentials"),
        ("https://acme.zendesk.com/?x=1", "must not contain credentials, a query"),
        ("https://acme.zendesk.com/#top", "a query or a fragment"),
        ("https://acme .zendesk.com", "must not contain spaces"),
        ("https://acme_x.zendesk.com", "is not a valid host name"),
        ("https://-acme.zendesk.com", "is not a valid host name"),
    ],
)
def test_zendesk_url_refuses_credentials_queries_and_bad_hosts(
    client: TestClient, account: Account, url: str, reason: str
) -> None:
    _, headers = account
    response = put(client, headers, zendesk_url=url)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("zendesk_url: ")
    assert reason in response.json()["error"]["message"]
    assert "s3cret" not in response.text
    assert get(client, headers)["integration"]["zendesk_url"] is None


# --- status --------------------------------------------------------------------------------


def test_status_names_what_is_missing(client: TestClient, account: Account) -> None:
    _, headers = account
    put(client, headers, zendesk_url="acme")
    status = client.get("/settings/integrations/status", headers=headers).json()
    assert status["zendesk"]["configured"] is False
    assert status["zendesk"]["source"] == "none"
    assert status["zendesk"]["missing"] == ["zendesk_email", "zendesk_api_token"]
    assert status["openai"] == {
        "configured": False,
        "source": "offline",
        "missing": ["openai_api_key"],
        "model": "gpt-4o-mini",
        "analysis_mode": "auto",
        "detail": status["openai"]["detail"],
    }


def test_status_when_everything_is_set(
    client: TestClient, account: Account, zendesk_url: str
) -> None:
    _, headers = account
    put(
        client,
        headers,
        zendesk_url=zendesk_url,
        zendesk_email=DEFAULT_EMAIL,
        zendesk_api_token=DEFAULT_API_TOKEN,
        openai_api_key=OPENAI_KEY,
    )
    status = client.get("/settings/integrations/status", headers=headers).json()
    assert status["zendesk"]["configured"] is True
    assert status["zendesk"]["source"] == "account"
    assert status["zendesk"]["missing"] == []
    assert (status["openai"]["configured"], status["openai"]["source"]) == (True, "account")
    put(client, headers, analysis_mode="local")
    status = client.get("/settings/integrations/status", headers=headers).json()
    assert (status["openai"]["configured"], status["openai"]["source"]) == (True, "offline")


def test_sandbox_is_reported_when_enabled_and_zendesk_unset(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, headers = account
    monkeypatch.setattr(get_settings(), "sandbox_enabled", True)
    assert get(client, headers)["integration"]["sandbox_in_use"] is True
    status = client.get("/settings/integrations/status", headers=headers).json()
    assert status["zendesk"]["source"] == "sandbox"
    assert status["zendesk"]["configured"] is False
    put(client, headers, zendesk_url="acme")
    assert get(client, headers)["integration"]["sandbox_in_use"] is False


# --- connection tests ----------------------------------------------------------------------


def configure_zendesk(
    client: TestClient, headers: dict[str, str], url: str, token: str = DEFAULT_API_TOKEN
) -> None:
    response = put(
        client, headers, zendesk_url=url, zendesk_email=DEFAULT_EMAIL, zendesk_api_token=token
    )
    assert response.status_code == 200, response.text


def configure_openai(
    client: TestClient, headers: dict[str, str], base_url: str, key: str, model: str
) -> None:
    response = put(
        client, headers, openai_api_key=key, openai_base_url=base_url, openai_model=model
    )
    assert response.status_code == 200, response.text


def test_zendesk_test_reports_the_signed_in_user(
    client: TestClient, account: Account, zendesk_url: str, zendesk_sim: ZendeskSimulator
) -> None:
    _, headers = account
    configure_zendesk(client, headers, zendesk_url)
    response = client.post("/settings/zendesk/test", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["source"] == "account"
    assert body["user"]["email"] == DEFAULT_EMAIL
    assert body["user"]["role"] == "admin"
    assert body["latency_ms"] >= 0
    assert body["warnings"] == []
    assert [call.path for call in zendesk_sim.calls] == ["/api/v2/users/me.json"]


def test_zendesk_test_warns_about_a_role_that_cannot_write(
    client: TestClient,
    account: Account,
    zendesk_url: str,
    zendesk_sim: ZendeskSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, headers = account
    monkeypatch.setattr(zendesk_sim, "role", "end-user")
    configure_zendesk(client, headers, zendesk_url)
    body = client.post("/settings/zendesk/test", headers=headers).json()
    assert body["ok"] is True
    assert "agent or admin" in body["warnings"][0]


def test_zendesk_test_with_bad_credentials_reports_the_401(
    client: TestClient, account: Account, zendesk_url: str, zendesk_sim: ZendeskSimulator
) -> None:
    _, headers = account
    configure_zendesk(client, headers, zendesk_url, token="wrong-token-123")
    response = client.post("/settings/zendesk/test", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error_kind"] == "auth"
    assert body["upstream_status"] == 401
    assert "Couldn't authenticate you" in body["detail"]
    assert body["user"] is None
    assert len(zendesk_sim.calls) == 1  # no retries


def test_zendesk_test_with_unreachable_host(client: TestClient, account: Account) -> None:
    _, headers = account
    configure_zendesk(client, headers, UNREACHABLE_URL)
    response = client.post("/settings/zendesk/test", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error_kind"] == "unreachable"
    assert body["upstream_status"] is None
    assert body["base_url"] == UNREACHABLE_URL


def test_zendesk_test_when_not_configured_names_the_missing_settings(
    client: TestClient, account: Account
) -> None:
    _, headers = account
    put(client, headers, zendesk_url="acme")
    response = client.post("/settings/zendesk/test", headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "not_configured"
    assert error["details"] == {"missing": ["zendesk_email", "zendesk_api_token"]}
    assert "zendesk_email" in error["message"]


def test_openai_test_reports_the_model(
    client: TestClient,
    account: Account,
    openai_base_url: str,
    openai_api_key: str,
    openai_sim: OpenAISimulator,
) -> None:
    _, headers = account
    configure_openai(client, headers, openai_base_url, openai_api_key, "gpt-4o-mini")
    response = client.post("/settings/openai/test", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["model"] == "gpt-4o-mini"
    assert body["shutdown_date"] == "2027-01-14"
    assert body["priced"] is True
    assert body["base_url"] == openai_base_url
    assert "2027-01-14" in body["warnings"][0]


def test_openai_test_with_bad_key_reports_the_401(
    client: TestClient, account: Account, openai_base_url: str, openai_sim: OpenAISimulator
) -> None:
    _, headers = account
    configure_openai(client, headers, openai_base_url, OPENAI_KEY, "gpt-4.1-mini")
    response = client.post("/settings/openai/test", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error_kind"] == "auth"
    assert body["upstream_status"] == 401
    assert "Incorrect API key provided" in body["detail"]
    assert OPENAI_KEY not in response.text


def test_openai_test_with_unknown_model(
    client: TestClient,
    account: Account,
    openai_base_url: str,
    openai_api_key: str,
    openai_sim: OpenAISimulator,
) -> None:
    _, headers = account
    configure_openai(client, headers, openai_base_url, openai_api_key, "no-such-model")
    body = client.post("/settings/openai/test", headers=headers).json()
    assert body["ok"] is False
    assert body["error_kind"] == "not_found"
    assert "no-such-model" in body["detail"]


def test_openai_test_with_unreachable_endpoint(client: TestClient, account: Account) -> None:
    _, headers = account
    configure_openai(client, headers, f"{UNREACHABLE_URL}/v1", OPENAI_KEY, "gpt-4.1-mini")
    response = client.post("/settings/openai/test", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    assert body["error_kind"] == "unreachable"
    assert "cannot reach" in body["detail"]


def test_openai_test_when_not_configured_names_the_missing_key(
    client: TestClient, account: Account
) -> None:
    _, headers = account
    response = client.post("/settings/openai/test", headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "not_configured"
    assert error["details"] == {"missing": ["openai_api_key"]}


# --- private upstreams -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "url", "address"),
    [
        ("zendesk_url", "http://169.254.169.254/latest", "169.254.169.254"),  # cloud metadata
        ("zendesk_url", "http://127.0.0.1:22", "127.0.0.1"),
        ("zendesk_url", "https://localhost", "localhost"),
        ("openai_base_url", "http://10.1.2.3:8000/v1", "10.1.2.3"),
        ("openai_base_url", "http://[::ffff:192.168.0.1]/v1", "::ffff:192.168.0.1"),
    ],
)
def test_production_refuses_upstreams_inside_the_network(
    client: TestClient,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    url: str,
    address: str,
) -> None:
    monkeypatch.setattr(get_settings(), "allow_private_upstreams", False)
    _, headers = account
    response = put(client, headers, **{field: url})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "private_upstream"
    assert error["message"].startswith(f"{field}: ") and address in error["message"]
    assert get(client, headers)["integration"][field] is None  # nothing was stored


def test_a_private_upstream_saved_earlier_is_refused_when_used(
    client: TestClient,
    account: Account,
    zendesk_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, headers = account
    saved = put(
        client,
        headers,
        zendesk_url=zendesk_url,  # the simulator, on 127.0.0.1: allowed outside production
        zendesk_email=DEFAULT_EMAIL,
        zendesk_api_token=DEFAULT_API_TOKEN,
    )
    assert saved.status_code == 200, saved.text
    monkeypatch.setattr(get_settings(), "allow_private_upstreams", False)
    for response in (
        client.post("/settings/zendesk/test", headers=headers),
        client.post("/tickets/process", json={"ticket_id": 1}, headers=headers),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "private_upstream"


def test_public_upstreams_are_accepted_in_production(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "allow_private_upstreams", False)
    _, headers = account
    response = put(client, headers, openai_base_url="https://93.184.216.34/v1")
    assert response.status_code == 200, response.text
