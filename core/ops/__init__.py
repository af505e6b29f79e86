"""Ops: running the system.

- tasks: the registry of background tasks and running them (the job runner's core)
- schedules: when a task is due (Every, Daily, Weekly, Quarterly, time zones)
- jobruns: job_run rows, job locks and runner heartbeats
- metric_sql: the one definition of every metric, in SQL, and sums -> KPIs
- rollup: writing the metric roll-up tables
- metrics: reading them (the dashboard figures, the training pace)
- alerts: alert rules, checks and notifications
- dashboard: the small read queries of the dashboard pages
"""
