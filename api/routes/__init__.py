"""Routers, one module per area. Each module exposes ``router`` (an APIRouter)."""
