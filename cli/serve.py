"""`supportloop serve`: start the dashboard, the API and the job runner as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from cli import main
from core.platform.config import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]


def process_commands(settings: Settings) -> dict[str, list[str]]:
    """The command line of each process `serve` starts, by name."""
    py = sys.executable
    return {
        "dashboard": [
            py, "-m", "streamlit", "run", str(ROOT / "app.py"),
            "--server.port", str(settings.dashboard_port), "--server.headless", "true",
        ],
        "api": [
            py, "-m", "uvicorn", "api.main:create_app", "--factory",
            "--host", settings.api_host, "--port", str(settings.api_port),
            "--workers", str(settings.api_workers),
        ],
        "runner": [py, "-m", "jobs"],
    }


@main.command("serve")
def serve() -> None:
    """Start the dashboard, the API and the job runner; Ctrl-C stops them all."""
    settings = get_settings()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="")
    procs = {
        name: subprocess.Popen(cmd, cwd=ROOT, env=env)
        for name, cmd in process_commands(settings).items()
    }
    click.secho("supportloop is starting:", bold=True)
    click.echo(f"  dashboard   http://localhost:{settings.dashboard_port}")
    click.echo(f"  API         http://{settings.api_host}:{settings.api_port}/docs")
    click.echo("  job runner  running (python -m jobs)")
    click.echo("Press Ctrl-C to stop.")

    stopping = False

    def _stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    click.secho(f"{name} exited with code {proc.returncode}; stopping.", fg="red")
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
