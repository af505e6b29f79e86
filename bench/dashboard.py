"""Dashboard page render time in Chromium against the 1,000,000-message PostgreSQL database of
the metrics benchmark.

Run: ``.venv/bin/python -m bench.dashboard`` (``--url`` for another database, ``--repeats N``).

1. Uses the PostgreSQL database ``supportloop_bench_metrics`` that ``python -m bench.metrics``
   leaves behind; when it is missing or empty it runs ``bench.metrics --only postgresql`` first
   (a few minutes). Migrates it to the latest revision, adds a bench admin and the default
   alert rules.
2. Starts ``streamlit run app.py`` on a free port with the query cache off
   (``SUPPORTLOOP_DASHBOARD_CACHE_SECONDS=0``), so every visit runs its queries: the worst case.
3. Logs in with Chromium (Playwright) and opens every page of the menu ``repeats`` times (after
   one warm-up round that imports the page modules), timing from the click in the menu until
   the page has finished rendering (the router's "rendered in" line appears for that run).
4. In the same run, starts the bare Streamlit app ``bench/bare_app.py`` (a title and one line,
   the same "rendered in" line) and times its pages the same way: what Streamlit itself costs
   on this machine at this moment, printed beside every dashboard page.

Writes bench/results/dashboard.json: ``{"database", "messages", "pages": {title: median ms}}``
plus p95, the server-side script time, ``bare_streamlit_page_ms`` (median, p95, script) and
the target (every page < 1000 ms). ``--load-note`` records how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "dashboard.json"
ADMIN, PASSWORD = "bench-admin", "bench-password-1"
TARGET_MS = 1000
BARE_MENU = ("Bare page", "Bare page 2")
MENU = ("Overview", "Conversations", "Review queue", "Knowledge base", "Knowledge gaps", "Training",
        "Experiments", "Alerts and jobs", "Users")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_RUN_JS = """([title, after]) => {
  const el = [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]')]
    .find(e => e.innerText.includes(' rendered in '));
  if (!el) return false;
  const m = el.innerText.match(/^(.*) rendered in (\\d+) ms · run (\\d+)/);
  return m && m[1] === title && Number(m[3]) > after ? [Number(m[2]), Number(m[3])] : false;
}"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(url: str) -> int:
    """Make sure the database has the metrics benchmark's data, is migrated and has a bench
    admin; returns the number of messages."""
    from core.access import auth
    from core.ops import alerts
    from core.platform.actors import SYSTEM
    from core.platform.clock import SystemClock
    from core.platform.db import make_engine, session_factory, session_scope, upgrade
    from core.platform.models import Conversation, Message, User

    def count(model) -> int:
        try:
            with session_factory(make_engine(url))() as s:
                return s.scalar(select(func.count()).select_from(model)) or 0
        except Exception:  # noqa: BLE001 - no database or no tables yet
            return 0

    if count(Conversation) == 0:
        print("no benchmark data: running `python -m bench.metrics --only postgresql` first ...")
        subprocess.run([sys.executable, "-m", "bench.metrics", "--only", "postgresql", "--repeats", "3"],
                       cwd=ROOT, check=True)
    print("migrating to the latest revision (the first time this builds the message search index) ...")
    upgrade(url)
    factory = session_factory(make_engine(url))
    with session_scope(factory) as s:
        if s.scalar(select(User.id).where(User.name == ADMIN)) is None:
            auth.create_user(s, ADMIN, "admin", PASSWORD, actor=SYSTEM)
        alerts.seed_default_rules(s, SystemClock())
    return count(Message)


def start_dashboard(url: str, port: int, script: Path = ROOT / "app.py") -> subprocess.Popen:
    env = dict(os.environ, SUPPORTLOOP_DATABASE_URL=url, SUPPORTLOOP_DASHBOARD_CACHE_SECONDS="0",
               HF_HUB_OFFLINE="1", TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the dashboard did not start within 60 s")


def time_pages(base: str, repeats: int, menu: tuple[str, ...] = MENU, login: bool = True) -> dict:
    from playwright.sync_api import sync_playwright

    wall: dict[str, list[float]] = {}
    server: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(base)
        if login:
            page.get_by_role("textbox", name="User name").fill(ADMIN)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
        nav = page.locator('[data-testid="stSidebarNav"]')
        nav.wait_for()
        titles = [t for t in menu if nav.get_by_role("link", name=t, exact=True).count()]
        run = page.wait_for_function(WAIT_RUN_JS, arg=[titles[0], 0], polling=20).json_value()[1]
        for round_ in range(repeats + 1):
            for title in titles:
                link = nav.get_by_role("link", name=title, exact=True)
                t0 = time.perf_counter()
                link.click()
                try:
                    done = page.wait_for_function(WAIT_RUN_JS, arg=[title, run], polling=20)
                except Exception as exc:
                    shot = ROOT / "bench" / "results" / "tmp" / "dashboard-timeout.png"
                    shot.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(shot), full_page=True)
                    raise SystemExit(f"{title!r} did not finish rendering (see {shot}): {exc}") from exc
                server_ms, run = done.json_value()
                ms = (time.perf_counter() - t0) * 1000
                if round_:  # round 0 imports the page modules
                    wall.setdefault(title, []).append(ms)
                    server.setdefault(title, []).append(server_ms)
        browser.close()
    return {"wall": wall, "server": server}


def main() -> None:
    from bench.metrics import PG_URL
    from tests.smtp import free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=PG_URL, help="database (default: the metrics bench's PostgreSQL)")
    parser.add_argument("--repeats", type=int, default=5, help="timed visits of every page")
    parser.add_argument("--load-note", default="", help="how busy the machine was (recorded as is)")
    args = parser.parse_args()
    messages = prepare(args.url)
    port = free_port()
    proc = start_dashboard(args.url, port)
    try:
        timings = time_pages(f"http://127.0.0.1:{port}", args.repeats)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    bare_port = free_port()  # the same run: Streamlit alone, timed the same way
    proc = start_dashboard(args.url, bare_port, ROOT / "bench" / "bare_app.py")
    try:
        bare = time_pages(f"http://127.0.0.1:{bare_port}", args.repeats, BARE_MENU, login=False)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    bare_wall = [ms for v in bare["wall"].values() for ms in v]
    bare_server = [ms for v in bare["server"].values() for ms in v]
    pages = {t: round(statistics.median(v), 1) for t, v in timings["wall"].items()}
    out = {
        "database": "postgresql" if args.url.startswith("postgresql") else args.url.split(":")[0],
        "messages": messages,
        "pages": pages,
        "pages_p95": {t: round(_pct(v, 0.95), 1) for t, v in timings["wall"].items()},
        "server_script_ms": {t: round(statistics.median(v), 1) for t, v in timings["server"].items()},
        "repeats": args.repeats,
        "bare_streamlit_page_ms": {"median": round(statistics.median(bare_wall), 1),
                                   "p95": round(_pct(bare_wall, 0.95), 1),
                                   "script_ms": round(statistics.median(bare_server), 1)},
        "load": args.load_note or f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        "query_cache": "off",
        "target_ms": TARGET_MS,
        "all_under_target": all(v < TARGET_MS for v in pages.values()),
    }
    base_ms = out["bare_streamlit_page_ms"]["median"]
    print(f"{'page':<18} {'median':>8} {'bare page':>10} {'p95':>7} {'script':>7}   ({out['load']})")
    for title, ms in pages.items():
        print(f"{title:<18} {ms:>5.0f} ms {base_ms:>7.0f} ms {out['pages_p95'][title]:>7.0f} "
              f"{out['server_script_ms'][title]:>7.0f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
