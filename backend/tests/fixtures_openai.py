"""OpenAI simulator fixtures: one server per session over real HTTP, reset before each test.

Import the fixtures into a conftest (`from tests.fixtures_openai import openai_sim, ...`) or
list the module in `pytest_plugins`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from app.integrations.llm import LLMAnalyzer
from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, create_openai_app
from sandbox.serve import serve_in_thread


@dataclass(frozen=True)
class OpenAIServer:
    sim: OpenAISimulator
    url: str


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    # Short Retry-After and hang so fault tests stay fast.
    sim = OpenAISimulator(retry_after_s=0.05, hang_s=5.0)
    with serve_in_thread(create_openai_app(sim)) as url:
        yield OpenAIServer(sim=sim, url=url)
    sim.release_hangs()


@pytest.fixture
def openai_sim(openai_server: OpenAIServer) -> Iterator[OpenAISimulator]:
    """The simulator with default knobs, no queued faults and no recorded calls."""
    openai_server.sim.reset()
    yield openai_server.sim
    openai_server.sim.reset()


@pytest.fixture
def openai_base_url(openai_server: OpenAIServer, openai_sim: OpenAISimulator) -> str:
    """The simulator's base URL as the SDK expects it (ending in /v1)."""
    return f"{openai_server.url}/v1"


@pytest.fixture
def openai_api_key() -> str:
    return SIM_API_KEY


@pytest.fixture
def openai_client(openai_base_url: str, openai_api_key: str) -> Iterator[openai.OpenAI]:
    """The official SDK pointed at the simulator, without retries."""
    client = openai.OpenAI(
        api_key=openai_api_key, base_url=openai_base_url, max_retries=0, timeout=5
    )
    yield client
    client.close()


@pytest.fixture
def make_llm_analyzer(openai_base_url: str, openai_api_key: str) -> Callable[..., LLMAnalyzer]:
    """Build an LLMAnalyzer for the simulator; keyword arguments override the test defaults
    (no SDK retries, 2 s timeout)."""

    def factory(**overrides: Any) -> LLMAnalyzer:
        options: dict[str, Any] = {
            "api_key": openai_api_key,
            "base_url": openai_base_url,
            "max_retries": 0,
            "timeout_s": 2.0,
        }
        options.update(overrides)
        return LLMAnalyzer(**options)

    return factory
