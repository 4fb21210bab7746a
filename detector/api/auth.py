"""Bearer-token authentication with roles. 401 without a valid token, 403 with the wrong role.

`require(*roles)` is a dependency; the aliases below are what routes put in their signatures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from detector.api.deps import Services
from detector.store.tokens import Role, TokenInfo

bearer = HTTPBearer(auto_error=False, description="API token from `detector tokens create`")


def require(*roles: Role) -> Callable[..., TokenInfo]:
    """A dependency that admits a token holding one of `roles`."""
    allowed = frozenset(roles)

    def dependency(
        services: Services, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> TokenInfo:
        if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        info = services.tokens.authenticate(creds.credentials)
        if info is None:
            raise HTTPException(
                401,
                "invalid, revoked or expired token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if info.role not in allowed:
            raise HTTPException(
                403,
                f"role {info.role.value} may not do this (needs {', '.join(sorted(r.value for r in allowed))})",
            )
        return info

    return dependency


AnyRole = Annotated[TokenInfo, Depends(require(*Role))]
Viewer = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER))]
Looker = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER, Role.PAYMENTS))]
Reviewer = Annotated[TokenInfo, Depends(require(Role.REVIEWER))]
Payer = Annotated[TokenInfo, Depends(require(Role.PAYMENTS))]
Ingester = Annotated[TokenInfo, Depends(require(Role.INGEST))]
Edge = Annotated[TokenInfo, Depends(require(Role.VIEWER, Role.REVIEWER, Role.INGEST))]
