"""Serve the built dashboard at `/app` and Swagger UI / ReDoc from local files.

The build (`frontend/dist`, or `FRONTEND_DIST`) has `index.html`, content-hashed files under
`assets/` (cached for a year: a new build has new names) and, under `docs-assets/`, the
Swagger UI and ReDoc bundles copied from npm, so `/docs` and `/redoc` work without internet.
Any other `/app/...` path is a route of the single-page app and gets `index.html`.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from app.errors import NotFound

PREFIX = "/app"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
DOCS_ASSETS_CACHE = "public, max-age=86400"
# The dashboard loads only its own files and talks to its own origin; charts set inline styles.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket Triage: dashboard not built</title>
</head><body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>The dashboard is not built</h1>
<p>The API is running (see <a href="/docs">/docs</a>), but <code>frontend/dist</code> is missing.
Install Node.js 20 or later and run <code>./start.sh</code> again (it builds the dashboard), or
build it yourself: <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
</body></html>
"""


def frontend_dist() -> Path:
    """Where the build is: `FRONTEND_DIST`, else `frontend/dist` next to `backend/`."""
    configured = os.environ.get("FRONTEND_DIST")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "frontend" / "dist"


def install_web(app: FastAPI, dist: Path | None = None) -> None:
    """Add the `/app` routes and, when the build has them, local Swagger UI and ReDoc."""
    dist = (dist or frontend_dist()).resolve()
    _install_app(app, dist)
    if (dist / "docs-assets" / "swagger-ui-bundle.js").is_file():
        _install_offline_docs(app)


def _install_app(app: FastAPI, dist: Path) -> None:
    async def serve(request: Request) -> Response:
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": REVALIDATE})
        relative = request.path_params.get("path", "")
        file = _file_in(dist, relative)
        if file is not None:
            hashed = relative.startswith("assets/")
            headers = {
                "Cache-Control": IMMUTABLE if hashed else DOCS_ASSETS_CACHE,
                "Content-Security-Policy": APP_CSP,
            }
            if hashed:
                headers["Vary"] = "Accept-Encoding"
                gzipped = file.with_name(file.name + ".gz")
                if gzipped.is_file() and _accepts_gzip(request):
                    # Compressed at build time: the browser gets a third of the bytes.
                    media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                    headers["Content-Encoding"] = "gzip"
                    return FileResponse(gzipped, media_type=media_type, headers=headers)
            return FileResponse(file, headers=headers)
        if relative.startswith(("assets/", "docs-assets/")):
            # A missing hashed file is a stale page asking for an old build: a 404, not HTML.
            raise NotFound(f"No such file: {PREFIX}/{relative}")
        return FileResponse(
            index,
            media_type="text/html",
            headers={"Cache-Control": REVALIDATE, "Content-Security-Policy": APP_CSP},
        )

    app.add_api_route(PREFIX, serve, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route(
        PREFIX + "/{path:path}", serve, methods=["GET", "HEAD"], include_in_schema=False
    )

    async def root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/")

    if not any(getattr(route, "path", None) == "/" for route in app.router.routes):
        app.add_api_route("/", root, methods=["GET"], include_in_schema=False)


def _accepts_gzip(request: Request) -> bool:
    accepted = request.headers.get("accept-encoding", "")
    return any(
        part.split(";")[0].strip() == "gzip" and part.replace(" ", "") != "gzip;q=0"
        for part in accepted.lower().split(",")
    )


def _file_in(dist: Path, relative: str) -> Path | None:
    """The file at `relative` inside `dist`; None for a directory, a miss or a way out."""
    if not relative or "\x00" in relative:
        return None
    candidate = (dist / relative).resolve()
    if not candidate.is_relative_to(dist) or not candidate.is_file():
        return None
    return candidate


def _install_offline_docs(app: FastAPI) -> None:
    """Replace FastAPI's CDN-based /docs and /redoc pages by ones that load local files."""
    docs_url, redoc_url = app.docs_url, app.redoc_url
    replaced = {url for url in (docs_url, redoc_url) if url}
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if not (isinstance(route, Route) and route.path in replaced)
    ]
    assets = PREFIX + "/docs-assets"

    if docs_url and app.openapi_url:
        openapi_url = app.openapi_url

        async def swagger_ui(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            redirect = app.swagger_ui_oauth2_redirect_url
            return get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{assets}/swagger-ui.css",
                swagger_favicon_url=f"{root}{assets}/favicon-32x32.png",
                oauth2_redirect_url=root + redirect if redirect else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            )

        app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)

    if redoc_url and app.openapi_url:
        openapi_url = app.openapi_url

        async def redoc(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            return get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{assets}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{assets}/favicon-32x32.png",
                with_google_fonts=False,
            )

        app.add_api_route(redoc_url, redoc, methods=["GET"], include_in_schema=False)
