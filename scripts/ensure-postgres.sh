#!/usr/bin/env bash
# Make sure the local PostgreSQL the tests use (127.0.0.1:5432, user postgres) is up.
# Starts the Debian cluster when it is installed but stopped. Never fails by itself:
# the test suite decides (a failure under CI=true, a skip with a message otherwise).
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  done
  for _ in $(seq 1 20); do
    pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
    sleep 0.5
  done
fi
echo "PostgreSQL is not reachable on 127.0.0.1:5432; PostgreSQL tests will skip (or fail under CI=true)."
exit 0
