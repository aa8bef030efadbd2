"""Upstream clients never follow a redirect: the address guard checks the saved URL, so a
3xx to anywhere else is an upstream error, and nothing reaches the redirect's target."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from app.integrations.llm import LLMAnalyzer, LLMUpstreamError
from app.integrations.llm.clients import sdk_client
from app.integrations.zendesk import ZendeskClient, ZendeskCredentials, ZendeskError
from sandbox.openai_sim import OpenAISimulator
from sandbox.serve import serve_in_thread
from sandbox.zendesk import ZendeskSimulator
from tests.fixtures_openai import OpenAIServer
from tests.fixtures_zendesk import ZendeskServer


def redirecting_app(target: str) -> Starlette:
    """Answers every request with a 307 to the same path on `target`."""

    async def redirect(request: Request) -> RedirectResponse:
        location = f"{target}{request.url.path}"
        if request.url.query:
            location += f"?{request.url.query}"
        return RedirectResponse(location, status_code=307)

    methods = ["GET", "POST", "PUT", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", redirect, methods=methods)])


@pytest.fixture
def redirect_to() -> Iterator[Callable[[str], str]]:
    """Start a redirecting server towards a target URL; returns the server's URL."""
    servers = []

    def start(target: str) -> str:
        server = serve_in_thread(redirecting_app(target))
        servers.append(server)
        return server.__enter__()

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def test_llm_analysis_does_not_follow_a_redirect(
    redirect_to: Callable[[str], str],
    openai_server: OpenAIServer,
    openai_sim: OpenAISimulator,
    openai_api_key: str,
) -> None:
    redirector = redirect_to(openai_server.url)
    analyzer = LLMAnalyzer(api_key=openai_api_key, base_url=f"{redirector}/v1", max_retries=0)

    with pytest.raises(LLMUpstreamError) as failure:
        analyzer.analyze("Charged twice", "Please refund one of the charges.")

    assert failure.value.status_code == 307
    assert openai_sim.calls == []


def test_llm_connection_test_does_not_follow_a_redirect(
    redirect_to: Callable[[str], str],
    openai_server: OpenAIServer,
    openai_sim: OpenAISimulator,
    openai_api_key: str,
) -> None:
    redirector = redirect_to(openai_server.url)
    analyzer = LLMAnalyzer(api_key=openai_api_key, base_url=f"{redirector}/v1", max_retries=0)

    with pytest.raises(LLMUpstreamError):
        analyzer.test_connection()

    assert openai_sim.calls == []


def test_batch_api_client_does_not_follow_a_redirect(
    redirect_to: Callable[[str], str],
    openai_server: OpenAIServer,
    openai_sim: OpenAISimulator,
    openai_api_key: str,
) -> None:
    redirector = redirect_to(openai_server.url)
    client = sdk_client(openai_api_key, f"{redirector}/v1", max_retries=0)

    with pytest.raises(openai.APIStatusError) as failure:
        client.batches.list()

    client.close()
    assert failure.value.status_code == 307
    assert openai_sim.calls == []


def test_zendesk_client_does_not_follow_a_redirect(
    redirect_to: Callable[[str], str],
    zendesk_server: ZendeskServer,
    zendesk_sim: ZendeskSimulator,
    zendesk_credentials: ZendeskCredentials,
) -> None:
    redirector = redirect_to(zendesk_server.url)
    calls_before = len(zendesk_sim.calls)

    client = ZendeskClient(redirector, zendesk_credentials, max_retries=0)
    with client, pytest.raises(ZendeskError) as failure:
        client.get_ticket(1)

    assert failure.value.status_code == 307
    assert len(zendesk_sim.calls) == calls_before
