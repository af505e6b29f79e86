"""Experiments: candidates against production: registry, lifecycle, analysis and statistics."""
