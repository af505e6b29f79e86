"""The job runner: ``python -m jobs`` runs the tasks core.tasks says are due (see docs/jobs.md)."""
