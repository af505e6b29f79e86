import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli.serve import process_commands
from core.platform.db import upgrade
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_api_process_gets_host_port_and_workers_from_settings(settings):
    custom = settings.model_copy(update={"api_workers": 3, "api_port": 8123, "api_host": "0.0.0.0"})
    api = process_commands(custom)["api"]
    assert api[api.index("--workers") + 1] == "3"
    assert api[api.index("--port") + 1] == "8123" and api[api.index("--host") + 1] == "0.0.0.0"
    assert "api.main:create_app" in api and "--factory" in api


def test_serve_starts_three_processes_and_prints_the_login_last(tmp_path):
    """The real command: a status table with the three processes ready, then the demo login."""
    var = tmp_path / "var"
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    upgrade(url)
    env = dict(os.environ, SUPPORTLOOP_DATABASE_URL=url, SUPPORTLOOP_DATA_DIR=str(var),
               SUPPORTLOOP_INDEX_DIR=str(var / "indexes"), SUPPORTLOOP_DASHBOARD_PORT=str(free_port()),
               SUPPORTLOOP_API_PORT=str(free_port()), SUPPORTLOOP_API_WORKERS="1", PYTHONPATH=str(ROOT))
    command = [str(Path(sys.executable).parent / "supportloop"), "serve", "--ensure-demo-admin"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while not any(line.startswith("Open http") for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        table = "".join(lines)
        for label in ("dashboard", "API", "job runner"):
            row = next(line for line in lines if line.strip().startswith(label))
            assert row.rstrip().endswith("ready"), table
        login = next(line for line in lines if line.startswith("Dashboard login:"))
        assert lines.index(login) >= len(lines) - 2, table  # the last lines
        user, _, password = login.removeprefix("Dashboard login:").strip().partition(" / ")
        assert user == "admin" and len(password) >= 12
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert (var / "logs" / "runner.log").exists() and (var / "logs" / "api.log").exists()
