"""The dashboard served at /app and the API docs served from local files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app

INDEX = (
    '<!doctype html><html><head><script type="module" src="/app/assets/index-Ab12Cd.js">'
    '</script></head><body><div id="root"></div></body></html>'
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "docs-assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-Ab12Cd.js").write_text("console.log('app')")
    (tmp_path / "assets" / "index-Ab12Cd.js.gz").write_bytes(gzip.compress(b"console.log('app')"))
    (tmp_path / "favicon.svg").write_text("<svg/>")
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        (tmp_path / "docs-assets" / name).write_text(f"/* {name} */")
    (tmp_path / "docs-assets" / "favicon-32x32.png").write_bytes(b"\x89PNG")
    return tmp_path


@pytest.fixture
def client(dist: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("FRONTEND_DIST", str(dist))
    return TestClient(create_app())


@pytest.mark.parametrize("path", ["/app", "/app/", "/app/tickets/42", "/app/jobs/abc?x=1"])
def test_every_app_route_gets_index_html_revalidated_each_time(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    # The API's `default-src 'none'` would block the app's own script.
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp


def test_hashed_assets_are_cached_for_a_year(client: TestClient) -> None:
    response = client.get("/app/assets/index-Ab12Cd.js")
    assert response.status_code == 200
    assert response.text == "console.log('app')"
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_hashed_assets_go_out_precompressed_to_browsers_that_accept_gzip(
    client: TestClient,
) -> None:
    # The raw response: no transparent decoding by the client.
    with client.stream(
        "GET", "/app/assets/index-Ab12Cd.js", headers={"Accept-Encoding": "gzip, br"}
    ) as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "gzip"
        assert "javascript" in response.headers["content-type"]
        assert "Accept-Encoding" in response.headers["vary"]
    assert gzip.decompress(raw) == b"console.log('app')"
    plain = client.get("/app/assets/index-Ab12Cd.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == "console.log('app')"


def test_other_files_of_the_build_are_served_with_a_short_cache(client: TestClient) -> None:
    response = client.get("/app/favicon.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=86400"


def test_a_missing_asset_is_a_404_in_the_error_shape_not_the_index(client: TestClient) -> None:
    response = client.get("/app/assets/index-Old999.js")
    assert response.status_code == 404
    body = response.json()["error"]
    assert body["code"] == "not_found" and body["request_id"]


@pytest.mark.parametrize(
    "path",
    [
        "/app/../main.py",
        "/app/%2e%2e/%2e%2e/backend/app/main.py",
        "/app/assets/..%2f..%2f..%2fetc/passwd",
    ],
)
def test_paths_outside_the_build_are_never_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert "create_app" not in response.text and "root:" not in response.text


def test_the_root_redirects_to_the_dashboard(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/app/"


def test_swagger_ui_and_redoc_load_local_files_only(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/app/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "/app/docs-assets/swagger-ui.css" in docs.text
    assert "/docs/oauth2-redirect" in docs.text
    redoc = client.get("/redoc")
    assert redoc.status_code == 200
    assert "/app/docs-assets/redoc.standalone.js" in redoc.text
    for page in (docs.text, redoc.text):
        assert "cdn.jsdelivr.net" not in page and "fonts.googleapis.com" not in page
        assert "/openapi.json" in page
    asset = client.get("/app/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and "swagger-ui-bundle.js" in asset.text
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_without_a_build_app_explains_how_to_get_it_and_the_api_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTEND_DIST", str(tmp_path / "missing"))
    client = TestClient(create_app())
    for path in ("/app", "/app/tickets"):
        response = client.get(path)
        assert response.status_code == 503
        assert "npm ci" in response.text and "Node.js 20" in response.text
    assert client.get("/health").status_code == 200
    # The docs fall back to FastAPI's own pages.
    assert client.get("/docs").status_code == 200


def test_the_app_routes_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/app") for path in paths) and "/" not in paths
