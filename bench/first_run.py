"""First-run benchmark: python -m bench.first_run [--source head|worktree] [--quick]

What a new user gets from ``make run``: from a fresh ``git clone`` of the current HEAD in a
temporary folder (``--source worktree`` copies the working tree instead: tracked and untracked
files git does not ignore), with the virtual environment already installed (the clone's
``.venv`` is a link to this checkout's; nothing is reinstalled, ``make`` is told the install
stamps are up to date, and ``PYTHONPATH`` points at the clone so its code runs), it runs
``make run`` when the Makefile's ``run`` target loads the demo as a queued job, else the same
steps itself (db upgrade, ensure-demo-admin, ``supportloop demo --if-empty --queue``,
``supportloop serve``), and measures from the start:

- dashboard_ready_s: until the dashboard answers: HTTP 200 from Streamlit's
  ``/_stcore/health`` and from the login page ``/``;
- demo_complete_s: until the ``demo_load`` job run has succeeded (the full demo: conversations,
  KB, enrichment and the rest of the warm-up).

Targets (issue 15): dashboard_ready_s <= 30 and demo_complete_s <= 180 on the 2-core machine.
Every process it started is stopped at the end (their process group). Writes
bench/results/first_run.json; ``--quick`` (the smoke test) loads the small demo instead and
writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "first_run.json"
TARGETS = {"dashboard_ready_s": 30.0, "demo_complete_s": 180.0}
OPEN = ("queued", "running")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_checkout(source: str, dest: Path) -> str:
    """A fresh copy of the project in ``dest``: a clone of HEAD, or the working tree's files.
    Returns the commit it is based on."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    if source == "head":
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    else:
        names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                               cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
        for raw in filter(None, names):
            rel = raw.decode()
            src = ROOT / rel
            if src.is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
    (dest / ".venv").symlink_to(ROOT / ".venv")  # installed once; never reinstalled here
    return commit


def make_run_queues_the_demo(repo: Path) -> bool:
    """Whether the clone's ``make run`` starts the processes at once with the demo as a job."""
    text = (repo / "Makefile").read_text(encoding="utf-8")
    m = re.search(r"^run:(?![^\n]*=)[^\n]*\n((?:\t.*\n|\s*\n)+)", text, re.M)  # not a run: VAR = ...
    recipe = m.group(1) if m else ""
    return "demo" in recipe and ("--queue" in recipe or "demo_load" in recipe)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def demo_state(db_path: Path) -> tuple[str | None, str | None, str]:
    """(status, error, progress) of the newest demo_load run, read straight from SQLite."""
    if not db_path.exists():
        return None, None, ""
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        try:
            row = con.execute("SELECT status, error, progress_done, progress_total, progress_message "
                              "FROM job_run WHERE job = 'demo_load' ORDER BY id DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None, None, ""
    if row is None:
        return None, None, ""
    return row[0], row[1], f"{row[4] or ''} {row[2]}/{row[3]}"


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group we started (then SIGKILL what is left)."""
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            time.sleep(0.5)
            os.killpg(proc.pid, 0)  # anything left in the group?
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def measure(source: str, size: str, timeout: float, keep: bool = False, quiet: bool = False) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="supportloop-first-run-"))
    repo, var = tmp / "repo", tmp / "var"
    repo.mkdir()
    commit = make_checkout(source, repo)
    dash_port, api_port = free_port(), free_port()
    db_path = var / "supportloop.db"
    env = dict(
        os.environ, PYTHONPATH=str(repo), SUPPORTLOOP_DATA_DIR=str(var),
        SUPPORTLOOP_INDEX_DIR=str(var / "indexes"),
        SUPPORTLOOP_DATABASE_URL=f"sqlite:///{db_path}", SUPPORTLOOP_DASHBOARD_PORT=str(dash_port),
        SUPPORTLOOP_API_PORT=str(api_port), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="", TOKENIZERS_PARALLELISM="false",
    )
    env.pop("VIRTUAL_ENV", None)
    cli = [str(repo / ".venv" / "bin" / "supportloop")]
    log = (tmp / "run.log").open("w")
    via_make = size == "full" and make_run_queues_the_demo(repo)
    t0 = time.monotonic()
    if via_make:
        up_to_date = [".venv/.installed", ".venv/.installed-test", ".venv/bin/python"]
        cmd = ["make", *(a for f in up_to_date for a in ("-o", f)), "run"]
        proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    else:
        script = " && ".join([
            f"{cli[0]} db upgrade", f"{cli[0]} user ensure-demo-admin",
            f"{cli[0]} demo --if-empty --queue --size {size}", f"exec {cli[0]} serve",
        ])
        proc = subprocess.Popen(["bash", "-c", script], cwd=repo, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    out: dict = {"dashboard_ready_s": None, "demo_complete_s": None}
    last = ""
    try:
        while time.monotonic() - t0 < timeout:
            now = round(time.monotonic() - t0, 2)
            if out["dashboard_ready_s"] is None:
                base = f"http://127.0.0.1:{dash_port}"
                if http_ok(f"{base}/_stcore/health") and http_ok(f"{base}/"):
                    out["dashboard_ready_s"] = now
                    if not quiet:
                        print(f"  {now:7.1f}s dashboard answers", flush=True)
            status, error, prog = demo_state(db_path)
            if prog != last and not quiet:
                print(f"  {now:7.1f}s demo {status}: {prog}", flush=True)
                last = prog
            if status == "succeeded" and out["demo_complete_s"] is None:
                out["demo_complete_s"] = now
            elif status in ("failed", "cancelled"):
                out["error"] = f"demo_load {status}: {(error or '')[:500]}"
                break
            if out["dashboard_ready_s"] is not None and out["demo_complete_s"] is not None:
                break
            if proc.poll() is not None:
                out["error"] = f"the processes exited with code {proc.returncode}"
                break
            time.sleep(0.25)
        else:
            out["error"] = f"not complete after {timeout:.0f} s"
    finally:
        stop(proc)
        log.close()
    if out.get("error"):  # the demo admin's password is printed by make run: never kept
        tail = (tmp / "run.log").read_text(errors="replace")[-3000:]
        out["log_tail"] = re.sub(r"(login: \S+ / )\S+", r"\1<redacted>", tail)
    out.update(
        size=size, source=source, commit=commit, via=("make run" if via_make else "the steps of make run"),
        targets=TARGETS, machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
        load_average_at_end=[round(x, 2) for x in os.getloadavg()],
    )
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        out["folder"] = str(tmp)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["head", "worktree"], default="head",
                        help="clone HEAD (default) or copy the working tree (uncommitted changes)")
    parser.add_argument("--quick", action="store_true", help="the small demo (smoke test); writes no results")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS})")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (log, database)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.source, "small" if args.quick else "full", args.timeout, args.keep, args.quiet)
    out = args.out or (None if args.quick else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.quiet:
        for key, target in TARGETS.items():
            value = result.get(key)
            shown = "-" if value is None else f"{value:.1f} s"
            verdict = "" if value is None else ("meets" if value <= target else "MISSES")
            print(f"{key:18} {shown:>9}  target <= {target:.0f} s  {verdict}")
        if result.get("error"):
            print("error:", result["error"], file=sys.stderr)
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(1 if res.get("error") else 0)
