"""Experiments: candidates against production: registry, lifecycle, analysis, and the statistics
(stats, sequential, decision)."""
