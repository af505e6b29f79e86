"""`supportloop serve`: start the dashboard, the API and the job runner as subprocesses, all at
once, and print a short status table (then the demo admin's login, when this call created it,
as the last lines). The processes write their logs to ``<data_dir>/logs/<process>.log`` so the
terminal keeps only what a person needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

import click

from cli import handle_errors, main, open_db, transaction
from core.access import auth
from core.ops import jobruns, queue
from core.platform.clock import SystemClock
from core.platform.config import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]
LABELS = {"dashboard": "dashboard", "api": "API", "runner": "job runner"}


def process_commands(settings: Settings) -> dict[str, list[str]]:
    """The command line of each process `serve` starts, by name."""
    py = sys.executable
    return {
        "dashboard": [
            py, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(settings.dashboard_port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ],
        "api": [
            py, "-m", "uvicorn", "api.main:create_app", "--factory",
            "--host", settings.api_host, "--port", str(settings.api_port),
            "--workers", str(settings.api_workers),
        ],
        "runner": [py, "-m", "jobs"],
    }


def addresses(settings: Settings) -> dict[str, str]:
    """Where each process answers (what the status table shows)."""
    return {
        "dashboard": f"http://localhost:{settings.dashboard_port}",
        "api": f"http://{settings.api_host}:{settings.api_port}/docs",
        "runner": "python -m jobs",
    }


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local URL
            return response.status < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _runner_alive(pid: int) -> bool:
    _, factory = open_db()
    with factory() as s:
        return any(b["alive"] and b["pid"] == pid for b in jobruns.heartbeats(s, SystemClock()))


def status_rows(settings: Settings, procs: dict[str, subprocess.Popen]) -> list[tuple[str, str, str, str]]:
    """(process, address, pid, state) of each process: ready once it answers (the runner: once
    its heartbeat is in the database), exited when it stopped, else starting."""
    dashboard_health = f"http://127.0.0.1:{settings.dashboard_port}/_stcore/health"
    api_health = f"http://127.0.0.1:{settings.api_port}/healthz"
    checks = {"dashboard": lambda p: _answers(dashboard_health), "api": lambda p: _answers(api_health),
              "runner": lambda p: _runner_alive(p.pid)}
    where = addresses(settings)
    rows = []
    for name, proc in procs.items():
        if proc.poll() is not None:
            state = f"exited ({proc.returncode})"
        else:
            state = "ready" if checks[name](proc) else "starting"
        rows.append((LABELS[name], where[name], str(proc.pid), state))
    return rows


def status_table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("process", "address", "pid", "state")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    return "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])


def _wait_ready(settings: Settings, procs: dict[str, subprocess.Popen], timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while True:
        rows = status_rows(settings, procs)
        if all(r[3] != "starting" for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


@main.command("serve")
@click.option("--ensure-demo-admin", is_flag=True,
              help="Create the demo admin when no admin exists and print its login last (`make run`).")
@click.option("--ready-timeout", default=60.0, show_default=True, help="Seconds to wait for each process.")
@handle_errors
def serve(ensure_demo_admin: bool, ready_timeout: float) -> None:
    """Start the dashboard, the API and the job runner; Ctrl-C stops them all."""
    settings = get_settings()
    settings.ensure_dirs()
    password = None
    if ensure_demo_admin:
        with transaction() as s:
            password = auth.ensure_demo_admin(s)
    logs = Path(settings.data_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="")
    files: dict[str, IO[bytes]] = {name: open(logs / f"{name}.log", "ab") for name in LABELS}  # noqa: SIM115
    procs = {
        name: subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=files[name], stderr=subprocess.STDOUT)
        for name, cmd in process_commands(settings).items()
    }
    click.secho("supportloop is starting ...", bold=True)
    rows = _wait_ready(settings, procs, ready_timeout)
    click.echo(status_table(rows))
    click.echo(f"  logs: {logs}/<process>.log; Ctrl-C stops everything.")
    with transaction() as s:
        pending = queue.open_runs(s)
    for run in pending:
        click.echo(f"  job run {run['id']} ({run['job']}) is {run['status']}: its progress is on the "
                   "dashboard's Alerts and jobs page (`supportloop jobs list`).")
    if password is not None:
        click.secho(f"\nDashboard login: {auth.DEMO_ADMIN} / {password}", bold=True, fg="green")
        click.echo(f"Open {addresses(settings)['dashboard']} and log in (shown once; change it on the "
                   "Users page).")

    stopping = False

    def _stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    click.secho(f"{LABELS[name]} exited with code {proc.returncode} (see {logs / name}.log); "
                                "stopping.", fg="red")
                    stopping = True
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    for fh in files.values():
        fh.close()
