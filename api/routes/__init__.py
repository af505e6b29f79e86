"""Routers, one module per area; each exposes ``router`` (an APIRouter) and ``api.main`` lists them."""
