"""The analysis call's transport keeps what the SDK did for it: its retry policy, no
redirects (tests/integrations/test_redirects.py), proxies from the environment, TLS
verified against the SDK's trust store."""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.config import get_settings
from app.integrations import factory
from app.integrations.llm import LLMAnalyzer, LLMUpstreamError
from app.integrations.llm.clients import clear_client_cache
from app.integrations.llm.transport import parse_headers, retry_delay_s, should_retry
from sandbox.openai_sim import SIM_API_KEY, OpenAISimulator, create_openai_app
from sandbox.serve import serve_in_thread
from tests.fixtures_openai import OpenAIServer
from tests.tcp_proxy import TcpProxy
from tests.tls_certificate import write_self_signed

MakeAnalyzer = Callable[..., LLMAnalyzer]
CONCURRENT_CALLS = 8


@pytest.mark.parametrize(
    ("status", "headers", "retried"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (500, {}, True),
        (503, {}, True),
        (400, {}, False),
        (401, {}, False),
        (404, {}, False),
        (503, {"x-should-retry": "false"}, False),
        (400, {"x-should-retry": "true"}, True),
    ],
)
def test_which_answers_are_retried(status: int, headers: dict[str, str], retried: bool) -> None:
    assert should_retry(status, headers) is retried


def test_retry_delay_follows_the_upstream_then_backs_off() -> None:
    in_three_s = email.utils.formatdate(time.time() + 3, usegmt=True)

    assert retry_delay_s(0, {"retry-after-ms": "250"}) == pytest.approx(0.25)
    assert retry_delay_s(0, {"retry-after": "2"}) == pytest.approx(2.0)
    assert retry_delay_s(0, {"retry-after": in_three_s}) == pytest.approx(3.0, abs=1.1)
    # Beyond a minute (or nothing said): exponential backoff with jitter, capped at 8 s.
    assert 0.375 <= retry_delay_s(0, {"retry-after": "120"}) <= 0.5
    assert 0.375 <= retry_delay_s(0, None) <= 0.5
    assert 0.375 <= retry_delay_s(0, {"retry-after": "soon", "retry-after-ms": "x"}) <= 0.5
    assert 3.0 <= retry_delay_s(3, {}) <= 4.0
    assert 6.0 <= retry_delay_s(10, {}) <= 8.0


def test_a_call_that_timed_out_is_retried(
    make_llm_analyzer: MakeAnalyzer, openai_sim: OpenAISimulator
) -> None:
    openai_sim.fail_next(1, "timeout")

    result = make_llm_analyzer(timeout_s=0.5, max_retries=1).analyze("Hi", "It crashes.")

    assert result.output.summary
    assert len(openai_sim.chat_requests()) == 2  # the first hung: never answered


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain HTTP forward proxy that records each request line it relays."""

    seen: list[str] = []
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def do_POST(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        forwarded = urllib.request.Request(self.path, data=body, method="POST")
        for name in ("Authorization", "Content-Type"):
            forwarded.add_header(name, self.headers[name])
        with self.direct.open(forwarded, timeout=10) as answer:
            payload = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def forward_proxy() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    seen: list[str] = []
    _ForwardProxy.seen = seen
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_environments_proxy_is_used(
    make_llm_analyzer: MakeAnalyzer,
    openai_sim: OpenAISimulator,
    openai_base_url: str,
    forward_proxy: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy_url, seen = forward_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)

    clear_client_cache()  # transports are built (and read the environment) once an account
    try:
        result = make_llm_analyzer().analyze("Hi", "It crashes.")
    finally:
        clear_client_cache()

    assert result.output.summary
    assert seen == [f"POST {openai_base_url}/chat/completions"]
    assert len(openai_sim.chat_requests()) == 1


def test_a_batchs_connections_are_kept_for_the_next_calls(
    openai_server: OpenAIServer, openai_sim: OpenAISimulator, openai_api_key: str
) -> None:
    """The pool keeps as many connections as a batch sends at once: later calls reuse them
    instead of opening (and closing) new ones."""
    openai_sim.latency_s = 0.1  # the calls of a round overlap
    with TcpProxy("127.0.0.1", urlsplit(openai_server.url).port or 80) as proxy:
        analyzer = LLMAnalyzer(
            api_key=openai_api_key,
            base_url=f"http://127.0.0.1:{proxy.port}/v1",
            max_retries=0,
            connections=CONCURRENT_CALLS,
        )
        with ThreadPoolExecutor(CONCURRENT_CALLS) as pool:
            for _ in range(3):
                results = list(
                    pool.map(
                        lambda n: analyzer.analyze(f"Ticket {n}", "It crashes."),
                        range(CONCURRENT_CALLS),
                    )
                )
                assert len(results) == CONCURRENT_CALLS
        clear_client_cache()

    assert 1 <= proxy.connections_accepted <= CONCURRENT_CALLS


def test_the_factorys_analyzer_keeps_a_batchs_worth_of_connections(
    openai_base_url: str, openai_api_key: str
) -> None:
    settings = get_settings()
    analyzer = factory.llm_analyzer(
        settings, api_key=openai_api_key, model="gpt-4o-mini", base_url=openai_base_url
    )

    assert analyzer._transport.connections == settings.batch_concurrency


def test_the_answers_headers_are_read_from_its_last_block() -> None:
    """Through a proxy, the CONNECT answer's block comes before the endpoint's own."""
    lines = [
        b"HTTP/1.1 200 Connection established\r\n",
        b"Via: proxy\r\n",
        b"\r\n",
        b"HTTP/1.1 429 Too Many Requests\r\n",
        b"Retry-After: 2\r\n",
        b"X-RateLimit-Remaining-Requests:  0 \r\n",
        b"\r\n",
    ]

    assert parse_headers(lines) == {"retry-after": "2", "x-ratelimit-remaining-requests": "0"}


@pytest.fixture
def https_endpoint(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The simulator served over HTTPS with a self-signed certificate: its base URL and
    the certificate's file."""
    certfile, keyfile = write_self_signed(tmp_path)
    with serve_in_thread(create_openai_app(OpenAISimulator()), tls=(certfile, keyfile)) as url:
        try:
            yield f"{url}/v1", certfile
        finally:
            clear_client_cache()  # its kept connection closed before the server stops


def test_tls_is_verified_against_the_trust_store(
    https_endpoint: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, certfile = https_endpoint
    monkeypatch.setenv("SSL_CERT_FILE", certfile)  # transports read it when built
    clear_client_cache()

    result = LLMAnalyzer(api_key=SIM_API_KEY, base_url=base_url, max_retries=0).analyze(
        "Hi", "It crashes."
    )

    assert result.output.summary


def test_a_certificate_outside_the_trust_store_is_refused(
    https_endpoint: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, _ = https_endpoint
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    clear_client_cache()
    analyzer = LLMAnalyzer(api_key=SIM_API_KEY, base_url=base_url, max_retries=0)

    with pytest.raises(LLMUpstreamError, match="certificate"):
        analyzer.analyze("Hi", "It crashes.")
