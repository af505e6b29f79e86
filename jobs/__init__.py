"""The job runner: ``python -m jobs`` runs the tasks core.ops.tasks says are due (see docs/jobs.md)."""
