"""The public edge: what customers and support channels call (FastAPI)."""
