"""App factory of the public API: ``uvicorn api.main:create_app --factory``."""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import api.routes
from core.config import Settings, get_settings
from core.db import make_engine, session_factory
from core.errors import SupportloopError


def _routers():
    for info in sorted(pkgutil.iter_modules(api.routes.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"api.routes.{info.name}")
        if hasattr(module, "router"):
            yield module.router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: the process settings)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
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

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Liveness and database reachability."""
        with app.state.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    for router in _routers():
        app.include_router(router)
    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict]:
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
