"""The command centre's web console, served by `detector serve` beside the API.

Plain HTML, CSS and JavaScript shipped in the package (`detector/api/console/`): no build step, no
CDN, works offline. The page asks for an API token and keeps it in the tab's sessionStorage; every
request it makes carries that token, so the API's roles decide what it sees (a viewer gets no review
queue). Evidence images and the clip are fetched with the token and shown from blob URLs.

The API routes the console reads live with their areas (feed, review, cameras, stats, hotlists);
here are who a token is, the page itself, and the redirects to it. `create_app` mounts the page's
files at `/console/static` (`mount_static`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import Field

from detector.api.auth import AnyRole
from detector.api.deps import CONSOLE_ERRORS
from detector.base import FrozenModel
from detector.store.tokens import Role

STATIC = Path(__file__).parents[1] / "console"
CONSOLE_PATH = "/console/"

# the page loads only its own files; evidence comes from the API as blobs
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(tags=["console"])


class WhoAmI(FrozenModel):
    id: int = Field(description="Token id")
    name: str = Field(description="Who holds the token")
    role: Role = Field(description="What the token may do")
    expires_at: str = Field(description="When it expires (ISO 8601, UTC)")


@router.get("/v1/whoami", response_model=WhoAmI, responses=CONSOLE_ERRORS)
def whoami(t: AnyRole) -> WhoAmI:
    return WhoAmI(id=t.id, name=t.name, role=t.role, expires_at=t.expires_at.isoformat())


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse(CONSOLE_PATH)


@router.get("/console", include_in_schema=False)
def console_noslash() -> RedirectResponse:
    return RedirectResponse(CONSOLE_PATH)


@router.get(CONSOLE_PATH, include_in_schema=False)
def console_index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


def mount_static(app: FastAPI) -> None:
    """The page's own files at /console/static."""
    app.mount("/console/static", StaticFiles(directory=STATIC, check_dir=True), name="console-static")
