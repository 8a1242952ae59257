"""Benchmark: time to first full render of the dispatcher console (/console/) with 100,000 incidents.

    .venv/bin/python bench/console.py            # or: make bench; --help for the options

1. Uses its own database (BENCH_CONSOLE_DATABASE_URL, default gridline_bench_console): creates it if missing,
   migrates it, and when it holds fewer than --min-incidents incidents runs `manage.py load_demo --scale 200
   --replace` (100,000 incidents, 40,000 stations, the register). Then ANALYZE.
2. Serves the project with gunicorn (DEBUG off, static files collected into a temporary STATIC_ROOT and served by
   WhiteNoise, --workers like scripts/serve.sh) on a free port from 8301.
3. Headless Chromium (/usr/bin/chromium through Playwright) logs in as `dispatcher` through the login page, then
   opens /console/ and waits for <body data-ready="true">, which console.js sets once the layer panel, the default
   layers (grids), the first incident markers (clustered) and the first page of the list are drawn. The time is the
   page's own `performance.mark` of that moment, from the navigation's start. Each run uses a fresh browser context
   (cold browser cache); a reload in the same context is reported beside it (warm cache).
4. Prints each run, the median, the slowest requests of the last run, and whether the goal (< 2 s) is met.

A report, not a test: it exits 0 whether or not the goal is met, and non-zero only when something could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import nearest_stations as ns  # noqa: E402 - shared helpers: ports, errors
from benchdb import ensure_database  # noqa: E402

BenchError = ns.BenchError
free_port = ns.free_port
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
GOAL_S = 2.0
READY = "body[data-ready=true]"


def env_default(name: str, default, cast=str):
    value = os.environ.get(name)
    return default if value in (None, "") else cast(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--database-url",
        default=env_default(
            "BENCH_CONSOLE_DATABASE_URL", "postgis://gridline:gridline@localhost:5432/gridline_bench_console"
        ),
        help="the benchmark's own database (BENCH_CONSOLE_DATABASE_URL); load_demo --replace may run in it",
    )
    p.add_argument("--scale", type=int, default=env_default("BENCH_CONSOLE_SCALE", 200, int))
    p.add_argument("--min-incidents", type=int, default=env_default("BENCH_CONSOLE_MIN_INCIDENTS", 100_000, int))
    p.add_argument("--runs", type=int, default=env_default("BENCH_CONSOLE_RUNS", 3, int))
    p.add_argument("--workers", type=int, default=env_default("BENCH_WORKERS", (os.cpu_count() or 2) + 1, int))
    p.add_argument("--port", type=int, default=env_default("BENCH_CONSOLE_PORT", 8301, int))
    p.add_argument("--username", default="dispatcher")
    p.add_argument("--password", default=env_default("DEMO_PASSWORD", "gridline-demo"))
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=900)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one render")
    return p.parse_args(argv)


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- 1. data -----------------------------------------------------------------------------------------------------


def ensure_data(args: argparse.Namespace) -> int:
    """Migrate, load the demo county if there are too few incidents, ANALYZE; the incident count."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    say("migrating the database (if needed)")
    call_command("migrate", interactive=False, verbosity=0)

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM grid_incident")
            return cursor.fetchone()[0]

    found = count()
    if found < args.min_incidents:
        command = [sys.executable, str(ROOT / "manage.py"), "load_demo", "--scale", str(args.scale), "--replace"]
        say(f"{found:,} incidents (< {args.min_incidents:,}): running {' '.join(command[1:])}")
        connection.close()
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            raise BenchError("load_demo failed")
        found = count()
        if found < args.min_incidents:
            raise BenchError(f"load_demo --scale {args.scale} left {found:,} incidents: raise --scale")
    else:
        say(f"{found:,} incidents present: no load")
    say("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connection.close()
    return found


# --- 2. server ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn(args: argparse.Namespace, port: int, tmp: Path):
    env = dict(os.environ, DEBUG="0", DJANGO_SETTINGS_MODULE="project.settings", STATIC_ROOT=str(tmp / "static"))
    say("collecting static files")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    exe = ROOT / ".venv" / "bin" / "gunicorn"
    log = tmp / "gunicorn.log"
    command = [
        str(exe) if exe.exists() else "gunicorn",
        "project.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--error-logfile",
        str(log),
        "--log-level",
        "warning",
    ]
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        say(f"gunicorn stopped (pid {process.pid})")


# --- 3. the browser ------------------------------------------------------------------------------------------------

READY_MS = "() => performance.getEntriesByName('gridline-console-ready')[0].startTime"
SLOWEST = """() => performance.getEntriesByType('resource')
    .filter(r => r.startTime <= performance.getEntriesByName('gridline-console-ready')[0].startTime)
    .map(r => [r.name.replace(location.origin, ''), Math.round(r.startTime), Math.round(r.duration), r.transferSize])
    .sort((a, b) => b[2] - a[2]).slice(0, 6)"""
DRAWN = """() => ({
    markers: document.querySelectorAll('.gl-inc').length,
    clusters: document.querySelectorAll('.gl-cluster').length,
    grids: document.querySelectorAll('path.gl-grid').length,
    listed: document.querySelectorAll('#incident-list li').length,
    inView: document.querySelector('.layer-row[data-layer=incidents]').dataset.count,
    layers: document.querySelectorAll('.layer-row').length,
})"""


def measure(args: argparse.Namespace, base: str) -> list[dict]:
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for n in range(1, args.runs + 1):
                context = browser.new_context(viewport={"width": args.width, "height": args.height})
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                page.goto(f"{base}/accounts/login/?next=/accounts/login/")
                page.fill("#id_username", args.username)
                page.fill("#id_password", args.password)
                with page.expect_navigation():
                    page.click("button[type=submit]")
                if "sessionid" not in {c["name"] for c in context.cookies()}:
                    raise BenchError(f"could not log in as {args.username}")
                started = time.monotonic()
                page.goto(f"{base}/console/")
                page.wait_for_selector(READY, state="attached", timeout=args.timeout * 1000)
                wall = time.monotonic() - started
                cold = page.evaluate(READY_MS) / 1000
                drawn = page.evaluate(DRAWN)
                slowest = page.evaluate(SLOWEST)
                # let the requests that follow the render (counts in view, area choices) finish: not measured
                page.wait_for_load_state("networkidle", timeout=args.timeout * 1000)
                page.reload()
                page.wait_for_selector(READY, state="attached", timeout=args.timeout * 1000)
                warm = page.evaluate(READY_MS) / 1000
                page.wait_for_load_state("networkidle", timeout=args.timeout * 1000)
                context.close()
                if errors:
                    raise BenchError(f"errors on the page: {errors}")
                runs.append({"cold": cold, "warm": warm, "wall": wall, "drawn": drawn, "slowest": slowest})
                say(f"run {n}: ready {cold:.2f} s (cold cache), {warm:.2f} s (reload); {drawn}")
        finally:
            browser.close()
    return runs


def report(args: argparse.Namespace, incidents: int, runs: list[dict]) -> None:
    cold = [r["cold"] for r in runs]
    warm = [r["warm"] for r in runs]
    print()
    print(f"Dispatcher console, time to first full render, {incidents:,} incidents, {os.cpu_count()} CPUs, "
          f"gunicorn {args.workers} workers, headless Chromium {args.width}x{args.height}")  # fmt: skip
    print("  run   cold cache   reload   (from navigation start to data-ready: panel, grids, markers, list)")
    for n, r in enumerate(runs, 1):
        print(f"  {n:>3}   {r['cold']:>8.2f} s  {r['warm']:>5.2f} s")
    print(f"  median {statistics.median(cold):.2f} s cold, {statistics.median(warm):.2f} s reload; "
          f"worst {max(cold):.2f} s")  # fmt: skip
    drawn = runs[-1]["drawn"]
    print(f"  drawn: {drawn['inView']} incidents in view as {drawn['clusters']} clusters and {drawn['markers']} "
          f"markers (a sample of the newest 500), {drawn['listed']} list rows, {drawn['grids']} grids, "
          f"{drawn['layers']} layer rows")  # fmt: skip
    print("  slowest requests of the last run (path, start ms, duration ms, bytes):")
    for name, start, duration, size in runs[-1]["slowest"]:
        print(f"    {duration:>6} ms  from {start:>5} ms  {size:>9,} B  {name[:110]}")
    met = max(cold) < GOAL_S
    print(f"  goal < {GOAL_S:.0f} s in every run: {'met' if met else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(CHROMIUM).exists():
        say(f"{CHROMIUM} is not installed: nothing to measure")
        return 1
    os.environ["DATABASE_URL"] = args.database_url
    try:
        ensure_database(args.database_url, say=say)
        incidents = ensure_data(args)
        port = free_port(args.port)
        with tempfile.TemporaryDirectory(prefix="gridline-bench-console-") as tmp:
            with gunicorn(args, port, Path(tmp)):
                runs = measure(args, f"http://127.0.0.1:{port}")
        report(args, incidents, runs)
    except BenchError as error:
        say(f"could not run: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
