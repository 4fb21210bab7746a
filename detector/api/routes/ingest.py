"""Bundle ingest: an edge box uploads a signed evidence bundle as a tar archive."""

from __future__ import annotations

import tempfile

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from detector.api.auth import Ingester
from detector.api.deps import ERRORS, ClientAddress, Services, actor
from detector.api.schemas import ErrorBody, IngestResponse

router = APIRouter()
SPOOL_BYTES = 8 * 1024 * 1024
TAR_TYPES = ("application/x-tar", "application/gzip", "application/x-gzip", "application/octet-stream")


@router.post(
    "/v1/ingest",
    response_model=IngestResponse,
    responses={
        **ERRORS,
        413: {"model": ErrorBody, "description": "Bundle too large"},
        415: {"model": ErrorBody, "description": "Not a tar upload"},
    },
    tags=["ingest"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def ingest(request: Request, svc: Services, ip: ClientAddress, t: Ingester) -> JSONResponse:
    max_bytes = svc.config.max_upload_bytes
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in TAR_TYPES:
        raise HTTPException(415, f"send the bundle as a tar archive ({', '.join(TAR_TYPES)}), got {ctype!r}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"bundle of {declared} bytes exceeds {max_bytes}")
    # spooled: small bundles stay in memory, big ones (clips) go to a temp file
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buf:
        async for chunk in request.stream():
            buf.write(chunk)
            if buf.tell() > max_bytes:
                raise HTTPException(413, f"bundle exceeds {max_bytes} bytes")
        buf.seek(0)
        result = await run_in_threadpool(
            svc.ingest.ingest_tar, buf, actor=actor(t), source=f"api:{t.name}@{ip}"
        )
    body = IngestResponse(
        status=result.status,
        event_id=result.event_id,
        violation_id=result.violation_id,
        reason=result.reason,
        quarantine_id=result.quarantine_id,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=422 if result.status == "rejected" else 200)
