"""Ops: the task registry and job runs, metrics roll-ups, alerts and dashboard queries."""
