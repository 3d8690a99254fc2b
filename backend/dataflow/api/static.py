"""Serves the canvas editor's production build, with a single-page-app fallback."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import File

from dataflow.api.auth import public

REPO_BUILD = Path(__file__).resolve().parents[3] / "frontend" / "dist"
PACKAGED_BUILD = Path(__file__).resolve().parents[1] / "static"


def find_static_dir(configured: str | None) -> Path | None:
    for candidate in (Path(configured) if configured else None, REPO_BUILD, PACKAGED_BUILD):
        if candidate and (candidate / "index.html").is_file():
            return candidate
    return None


def static_handler(root: Path | None) -> HTTPRouteHandler:
    # The editor's files are public: its sign-in page must load before anyone is signed in.
    @get(["/", "/{path:path}"], include_in_schema=False, sync_to_thread=False, opt=public())
    def serve(path: FromPath[str] = "/") -> Response:
        rel = path.lstrip("/")
        if rel.startswith(("api/", "schema", "metrics", "health")):
            raise NotFoundException(f"no route {path}")
        if root is None:
            return Response(
                "<h1>DataFlow</h1><p>The editor is not built: run <code>make run</code> "
                "(or <code>npm --prefix frontend ci && npm --prefix frontend run build</code>)."
                " The API is at <a href='/schema'>/schema</a>.</p>",
                media_type="text/html",
            )
        target = (root / rel).resolve()
        if rel and target.is_file() and target.is_relative_to(root.resolve()):
            media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            cache = "public, max-age=31536000, immutable" if "/assets/" in f"/{rel}" else "no-cache"
            return File(
                target,
                media_type=media,
                headers={"Cache-Control": cache},
                content_disposition_type="inline",
            )
        # Client-side routes (/flows/abc) get the app shell.
        return File(
            root / "index.html",
            media_type="text/html",
            headers={"Cache-Control": "no-cache"},
            content_disposition_type="inline",
        )

    return serve
