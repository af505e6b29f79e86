"""The embeddable chat widget (``/widget.js``) and its demo page (``/widget/demo``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["widget"])
STATIC = Path(__file__).resolve().parent.parent / "static"


@lru_cache(maxsize=4)
def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@router.get(
    "/widget.js",
    summary="The chat widget script",
    response_class=Response,
    responses={200: {"content": {"application/javascript": {}}}},
)
def widget_js() -> Response:
    """Embed with ``<script src="https://YOUR-API/widget.js" defer></script>``."""
    return Response(
        _read("widget.js"),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/widget/demo", response_class=HTMLResponse, summary="Demo page with the chat widget")
def widget_demo() -> HTMLResponse:
    """A page where a customer can try the widget."""
    return HTMLResponse(_read("demo.html"))
