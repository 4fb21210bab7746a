"""Every route of the API, as served and as documented, against the list taken from the app before
it was split into routers (`tests/data/api_routes.txt`, written by `route_lines` from the app of
main at bb777bc): a route lost or added by a refactor fails here, naming it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from tests.api.support import Api

ROUTES = Path(__file__).parents[1] / "data" / "api_routes.txt"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def route_lines(app: FastAPI) -> set[str]:
    """`METHOD path` of every route, routers' included (`hidden` when it is not in the OpenAPI
    document), `MOUNT path` of every mounted app."""
    out: set[str] = set()
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, Mount):
            out.add(f"MOUNT {ctx.path}")
            continue
        hidden = not isinstance(ctx.original_route, APIRoute) or not ctx.include_in_schema
        for m in sorted(ctx.methods or ()):
            out.add(f"{m} {ctx.path}" + (" hidden" if hidden else ""))
    return out


def openapi_lines(app: FastAPI) -> set[str]:
    return {
        f"{m.upper()} {path}"
        for path, ops in app.openapi()["paths"].items()
        for m in ops
        if m in HTTP_METHODS
    }


def test_every_route_of_before_the_split_is_served(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    expected = {line for line in ROUTES.read_text().splitlines() if line and not line.startswith("#")}
    got = route_lines(app)
    assert not expected - got, f"routes lost: {sorted(expected - got)}"
    assert not got - expected, f"routes added (add them to {ROUTES.name}): {sorted(got - expected)}"


def test_the_openapi_document_lists_every_public_route(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    public = {
        line for line in route_lines(app) if not line.endswith(" hidden") and not line.startswith("MOUNT")
    }
    assert openapi_lines(app) == public
    assert len(public) >= 40  # the walk saw into the included routers
