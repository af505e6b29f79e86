"""App factory of the public API: ``uvicorn api.main:create_app --factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.ratelimit import Limits, RateLimited, RateLimitMiddleware, error_body
from api.routes import chat, conversations, feedback, ingest, metrics, openai_compat, outcomes, survey, widget
from api.schemas import ErrorOut, HealthOut
from core.platform.config import Settings, get_settings
from core.platform.db import make_engine, session_factory
from core.platform.errors import SupportloopError
from core.platform.secrets import check_secret

log = logging.getLogger(__name__)
HEALTH_RETRY_S = 5
HEALTH_RESPONSES = {
    503: {
        "description": "The database does not answer (health check failed; nothing else is wrong with "
        "the request). Retry after the seconds in `Retry-After`.",
        "model": ErrorOut,
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    }
}
WIDGET_PATHS = frozenset({"/api/v1/chat", "/api/v1/ai/feedback"})  # what the embedded widget calls
ROUTERS = (
    chat.router,
    conversations.router,
    feedback.router,
    ingest.router,
    metrics.router,
    openai_compat.router,
    outcomes.router,
    survey.router,
    widget.router,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: the process settings)."""
    settings = settings or get_settings()
    check_secret(settings, "The API")  # InsecureSecret: a known or short link-signing secret

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="supportloop API",
        version="1",
        description="Public edge of supportloop: feedback, chat, ingest, outcomes and metrics.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.session_factory = session_factory(app.state.engine)
    app.state.rate_limits = Limits.from_settings(settings)

    @app.exception_handler(RateLimited)
    async def _rate_limited(_request: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            status_code=429, content=error_body(exc), headers={"Retry-After": str(exc.retry_after)}
        )

    @app.exception_handler(SupportloopError)
    async def _supportloop_error(_request: Request, exc: SupportloopError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status,
            content={"error": type(exc).__name__, "detail": str(exc)},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"error": "ValidationError", "detail": jsonable_errors(exc)},
        )

    @app.get("/healthz", tags=["health"], response_model=HealthOut, responses=HEALTH_RESPONSES)
    def healthz() -> HealthOut | JSONResponse:
        """Liveness and database reachability: 200 when the database answers, 503 (documented,
        the one 5XX of the API) when it does not."""
        try:
            with app.state.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:  # unreachable, refused, locked, no such file...
            log.warning("healthz: the database does not answer: %s", type(exc).__name__, exc_info=exc)
            return JSONResponse(
                status_code=503,
                content={"error": "DatabaseUnavailable",
                         "detail": "The database does not answer; see the API's log for why."},
                headers={"Retry-After": str(HEALTH_RETRY_S), "Cache-Control": "no-store"},
            )
        return HealthOut(status="ok")

    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: _openapi(app)
    app.add_middleware(RateLimitMiddleware, limits=app.state.rate_limits)  # inside CORS: 429s get CORS
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(WidgetCORS, origins=origins)
    return app


class WidgetCORS:
    """CORS for the chat widget's public endpoints only (``WIDGET_PATHS``), so the widget can
    be embedded on another site. Requests carry no cookies (``allow_credentials`` stays off):
    votes are authorised by their signature, chat by its session id, so letting any origin
    call them exposes nothing a plain HTTP client could not do. Every other path (API-key
    routes, stats, metrics) gets no CORS headers."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=["Content-Type"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in WIDGET_PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _openapi(app: FastAPI) -> dict:
    """The OpenAPI schema, with every 422 answer documented as the error body it really is
    (``ErrorOut``: the JSON of a ValidationError, never FastAPI's default shape)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    ref = {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
    for item in schema.get("paths", {}).values():
        for op in item.values():
            for param in op.get("parameters", []):
                _json_schema_bounds(param.get("schema", {}))
            invalid = op.get("responses", {}).get("422")
            if invalid is not None:
                invalid.setdefault("content", {})["application/json"] = ref
            if "requestBody" in op:  # limit_body: every router refuses bodies over the limit
                op["responses"].setdefault(
                    "413", {"description": "Request body too large", "content": {"application/json": ref}}
                )
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _json_schema_bounds(schema: dict) -> None:
    """JSON Schema names for the bounds of a parameter (``api.schemas.AsciiInt`` with ``Path(ge=1)``
    leaves FastAPI's ``ge``/``le`` keywords in the schema, which clients and fuzzers ignore)."""
    for short, name in _BOUNDS.items():
        if short in schema:
            schema[name] = schema.pop(short)
    for option in schema.get("anyOf", []):
        _json_schema_bounds(option)


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    """The validation errors of a request as plain JSON (location, message, type)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
