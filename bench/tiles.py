"""Benchmark: vector tiles of the stations layer, `/tiles/` beside raw ST_AsMVT (pgbench) and beside tipg.

    .venv/bin/python bench/tiles.py            # or: make bench;  --help for the options

1. Makes sure the database (DATABASE_URL) exists (created with PostGIS when missing), is migrated and holds at
   least --min-stations stations (otherwise runs `manage.py load_demo --scale N --replace`), then ANALYZEs
   grid_station.
2. For each zoom (--zooms, default 10 and 14) the tiles covering the demo county's bounding box are drawn at
   random, uniformly, by every load generator:
   a. raw: pgbench -M prepared runs the very statement the endpoint runs (layers.tiles.tile_sql, compiled from the
      registry's queryset for an anonymous caller) with \\set z/x/y;
   b. ours: gunicorn (3 sync workers, as scripts/serve.sh) serves /tiles/stations/z/x/y.mvt, driven by wrk,
      once with the tile cache off (settings.TILES_CACHE = False) and once with it on (after a warm-up that fills
      it: the cached figure is the hit rate);
   c. tipg, in its own virtual environment (--tipg-venv, default .bench-venv-tipg: `python3 -m venv
      .bench-venv-tipg && .bench-venv-tipg/bin/pip install tipg uvicorn`), 3 uvicorn workers on the same table,
      the same columns, the same buffer, and no feature limit.
   Each measurement runs --repeat times (default 2) and every figure is printed.
3. Prints tiles/s and the ratios against the goals: ours >= 85% of raw and >= 1.4x tipg at both zooms.

A report, not a test: it exits 0 whether or not the goals are met, and non-zero only when something could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import nearest_stations as ns  # noqa: E402 - shared helpers: data loading, pgbench, CPU accounting, ports

BenchError = ns.BenchError
say = ns.say
LAYER = "stations"
TABLE = "grid_station"
GOAL_RAW = 0.85
GOAL_TIPG = 1.4

WRK_LUA = r"""
-- Each request: a tile drawn uniformly from the x/y ranges, from a generator seeded per thread (deterministic).
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  template = args[1]
  z, x0, x1, y0, y1 = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  math.randomseed(1000 + tid)
end
function request()
  local x = math.random(x0, x1)
  local y = math.random(y0, y1)
  local path = template:gsub("{z}", z):gsub("{x}", x):gsub("{y}", y)
  return wrk.format("GET", path)
end
"""


def env_default(name: str, default, cast=str):
    return ns.env_default(name, default, cast)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    cpus = os.cpu_count() or 2
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--zooms", default=env_default("BENCH_TILE_ZOOMS", "10,14"), help="BENCH_TILE_ZOOMS")
    p.add_argument("--scale", type=int, default=env_default("BENCH_TILE_SCALE", 500, int), help="BENCH_TILE_SCALE")
    p.add_argument(
        "--min-stations",
        type=int,
        default=env_default("BENCH_TILE_MIN_STATIONS", 100_000, int),
        help="fewer stations than this trigger load_demo --replace (BENCH_TILE_MIN_STATIONS)",
    )
    p.add_argument("--duration", type=int, default=env_default("BENCH_DURATION", 15, int), help="BENCH_DURATION")
    p.add_argument("--warmup", type=int, default=env_default("BENCH_WARMUP", 3, int), help="BENCH_WARMUP")
    p.add_argument("--repeat", type=int, default=env_default("BENCH_REPEAT", 2, int), help="BENCH_REPEAT")
    p.add_argument("--pg-clients", type=int, default=env_default("BENCH_PG_CLIENTS", 2, int), help="BENCH_PG_CLIENTS")
    p.add_argument("--pg-mode", default=env_default("BENCH_PG_MODE", "prepared"), help="BENCH_PG_MODE")
    p.add_argument("--threads", type=int, default=env_default("BENCH_THREADS", 2, int), help="wrk threads")
    p.add_argument("--connections", type=int, default=env_default("BENCH_CONNECTIONS", 4, int), help="wrk conns")
    p.add_argument("--workers", type=int, default=env_default("BENCH_WORKERS", cpus + 1, int), help="BENCH_WORKERS")
    p.add_argument("--port", type=int, default=env_default("BENCH_PORT", 8211, int), help="first port to try")
    p.add_argument(
        "--tipg-venv", default=env_default("BENCH_TIPG_VENV", str(ROOT / ".bench-venv-tipg")), help="BENCH_TIPG_VENV"
    )
    p.add_argument("--skip-raw", action="store_true")
    p.add_argument("--skip-ours", action="store_true")
    p.add_argument("--skip-tipg", action="store_true")
    args = p.parse_args(argv)
    args.zoom_list = [int(z) for z in args.zooms.split(",") if z.strip()]
    # gunicorn's options as bench/nearest_stations.py names them, for its helpers
    args.worker_class, args.gunicorn_threads, args.limit = "sync", 1, 5
    return args


# --- the tiles ------------------------------------------------------------------------------------------------


def tile_range(box: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1): the XYZ tiles that cover a lon/lat box at zoom z."""

    def tile(lon: float, lat: float) -> tuple[int, int]:
        n = 2**z
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    (x0, y0), (x1, y1) = tile(box[0], box[3]), tile(box[2], box[1])
    return x0, x1, y0, y1


def raw_statement() -> str:
    """The endpoint's own statement for an anonymous caller, with pgbench's :z :x :y in place of the tile."""
    from django.contrib.auth.models import AnonymousUser

    from layers.registry import LAYERS
    from layers.tiles import tile_sql

    marks = {-1001: ":z", -1002: ":x", -1003: ":y"}  # impossible tile numbers, replaced by pgbench variables
    sql, params = tile_sql(layer=LAYERS[LAYER], user=AnonymousUser(), z=-1001, x=-1002, y=-1003)
    if params[0] != LAYER or len(params) != 7:
        raise BenchError(f"unexpected parameters of the tile statement: {params!r}")
    return sql % tuple(f"'{LAYER}'" if i == 0 else marks[v] for i, v in enumerate(params))


def pgbench_script(z: int, rng: tuple[int, int, int, int]) -> str:
    x0, x1, y0, y1 = rng
    return f"\\set z {z}\n\\set x random({x0}, {x1})\n\\set y random({y0}, {y1})\n{raw_statement()};\n"


def run_pgbench(args: argparse.Namespace, script: str) -> ns.Result:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ, PGPASSWORD=str(db.get("PASSWORD") or ""))
    with tempfile.TemporaryDirectory(prefix="bench-tiles-pgbench-") as tmp:
        path = Path(tmp) / "tile.sql"
        path.write_text(script)
        base = ns.pgbench_command(db, script=path, mode=args.pg_mode, clients=args.pg_clients)
        if args.warmup:
            subprocess.run(base + ["-T", str(args.warmup)], env=env, capture_output=True, text=True)
        process = subprocess.Popen(
            base + ["-T", str(args.duration)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            cpu = ns.measure_cpu(
                process, args.duration, lambda: [process.pid, *ns.database_backend_pids(application_name="pgbench")]
            )
            stdout, stderr = process.communicate()
        finally:
            if process.poll() is None:
                process.kill()
    if process.returncode != 0:
        raise BenchError(f"pgbench failed ({process.returncode}):\n{stdout}\n{stderr}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", stdout)
    count = re.search(r"number of transactions actually processed: (\d+)", stdout)
    if not tps:
        raise BenchError(f"no tps in pgbench's output:\n{stdout}")
    latency = float(lat.group(1)) if lat else float("nan")
    return ns.Result(float(tps.group(1)), latency, float("nan"), int(count.group(1)) if count else 0, cpu)


# --- servers ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def stopping(process: subprocess.Popen, name: str):
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        say(f"{name} stopped (pid {process.pid})")


def start_gunicorn(args: argparse.Namespace, port: int, tmp: Path, *, cache: bool) -> subprocess.Popen:
    # A settings module of the benchmark's own: the project's, with the tile cache on or off.
    (tmp / "bench_tiles_settings.py").write_text(
        f"from project.settings import *  # noqa: F403\nTILES_CACHE = {cache!r}\n"
    )
    exe = ROOT / ".venv" / "bin" / "gunicorn"
    command = [
        str(exe) if exe.exists() else "gunicorn",
        "project.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "sync",
        "--timeout",
        "120",
        "--error-logfile",
        str(tmp / "gunicorn.log"),
        "--log-level",
        "warning",
    ]
    if Path("/dev/shm").is_dir():
        command += ["--worker-tmp-dir", "/dev/shm"]
    env = dict(
        os.environ,
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="bench_tiles_settings",
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
    )
    return subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )


def start_tipg(args: argparse.Namespace, port: int, tmp: Path) -> subprocess.Popen:
    from django.conf import settings

    uvicorn = Path(args.tipg_venv) / "bin" / "uvicorn"
    if not uvicorn.exists():
        raise BenchError(
            f"no {uvicorn}: python3 -m venv {args.tipg_venv} && {args.tipg_venv}/bin/pip install tipg uvicorn "
            "(or --skip-tipg)"
        )
    db = settings.DATABASES["default"]
    dsn = (
        f"postgresql://{db.get('USER')}:{db.get('PASSWORD')}@{db.get('HOST') or 'localhost'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )
    env = dict(
        os.environ,
        DATABASE_URL=dsn,
        TIPG_DB_SCHEMAS='["public"]',
        TIPG_DB_TABLES=f'["public.{TABLE}"]',
        TIPG_MAX_FEATURES_PER_TILE="100000000",  # the whole tile, as ours (its default stops at 10,000 features)
        TIPG_TILE_BUFFER="64",  # ours
        TIPG_DB_MAX_CONN_SIZE="4",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = open(tmp / "tipg.log", "w")  # closed with the process's temporary directory
    return subprocess.Popen(
        [str(uvicorn), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        cwd=tmp,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for_tile(process: subprocess.Popen, url: str, log: Path) -> int:
    """Poll one tile until it answers 200 with a body; its size."""
    deadline = time.monotonic() + 90
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(
                f"server exited ({process.returncode}):\n{log.read_text()[-3000:] if log.exists() else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=60) as reply:
                body = reply.read()
            if reply.status == 200 and body:
                return len(body)
            last = f"status {reply.status}, {len(body)} bytes"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise BenchError(f"{url} gave no tile within 90 s: {last}\n{log.read_text()[-3000:] if log.exists() else ''}")


def wait_idle(limit: float = 180.0) -> None:
    """Wait until no statement runs in the database: a sync worker finishes the tiles that the last run's
    connections asked for after wrk has gone, and would otherwise eat into the next run."""
    from django.db import connection

    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0] == 0:
                    return
            time.sleep(0.2)
        raise BenchError(f"the database was still busy {limit:.0f} s after the last run")
    finally:
        connection.close()


def run_wrk(args: argparse.Namespace, lua: Path, base: str, template: str, z: int, rng, duration: int, pids=None):
    command = ns.wrk_command(
        args,
        script=lua,
        url=base,
        duration=duration,
        timeout="60s",
        script_args=[template, str(z), *(str(v) for v in rng)],
    )
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cpu = ns.measure_cpu(process, duration, lambda: [process.pid, *pids()]) if pids else None
        stdout, stderr = process.communicate()
    finally:
        if process.poll() is None:
            process.kill()
    out = stdout + stderr
    if process.returncode != 0:
        raise BenchError(f"wrk failed ({process.returncode}):\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\b", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", out, re.M)
    if not (rate and total):
        raise BenchError(f"could not read wrk's output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise BenchError(
            f"errors under load ({bad.group(0) if bad else ''} {errors.group(0) if errors else ''}):\n{out}"
        )
    ms = lambda m: float(m.group(1)) * ns._UNIT_MS[m.group(2)] if m else float("nan")  # noqa: E731
    return ns.Result(float(rate.group(1)), ms(p50), ms(p99), int(total.group(1)), cpu)


# --- the run ----------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    raw: list[ns.Result] = field(default_factory=list)
    ours: list[ns.Result] = field(default_factory=list)
    cached: list[ns.Result] = field(default_factory=list)
    tipg: list[ns.Result] = field(default_factory=list)


def measure_server(
    args, name: str, process, base: str, template: str, ranges, lua: Path, log: Path, into: dict, prefill=False
):
    z0 = args.zoom_list[-1]
    # a tile that has features: the middle of the county's range
    x, y = (ranges[z0][0] + ranges[z0][1]) // 2, (ranges[z0][2] + ranges[z0][3]) // 2
    size = wait_for_tile(process, base + template.format(z=z0, x=x, y=y), log)
    say(f"{name}: answering ({size:,} bytes at {z0}/{x}/{y})")
    for z in args.zoom_list:
        if prefill:  # every tile once, so that the measured runs read the cache only
            x0, x1, y0, y1 = ranges[z]
            for tx in range(x0, x1 + 1):
                for ty in range(y0, y1 + 1):
                    with urllib.request.urlopen(base + template.format(z=z, x=tx, y=ty), timeout=120) as reply:
                        reply.read()
        if args.warmup:
            run_wrk(args, lua, base, template, z, ranges[z], args.warmup)
        for i in range(args.repeat):
            wait_idle()
            result = run_wrk(
                args,
                lua,
                base,
                template,
                z,
                ranges[z],
                args.duration,
                pids=lambda: [process.pid, *ns.child_pids(process.pid), *ns.database_backend_pids()],
            )
            say(
                f"{name} z{z} run {i + 1}: {result.rate:,.1f} tiles/s "
                f"(p50 {result.p50_ms:.1f} ms, {result.count} tiles)"
            )
            into[z].append(result)


def report(args, stations: int, ranges, figures: dict[int, Figures]) -> None:
    cpus = os.cpu_count() or 1
    print()
    print(
        f"Vector tiles of {LAYER} ({stations:,} rows), {cpus} CPUs, {args.duration} s per run, "
        f"{args.repeat} runs each; tiles/s"
    )

    def cells(results: list[ns.Result]) -> str:
        if not results:
            return "-"
        text = " / ".join(f"{r.rate:,.1f}" for r in results)
        others = [r.cpu.others_cores for r in results if r.cpu]
        return text + (f"  (others {max(others):.2f} cores)" if others else "")

    for z, f in figures.items():
        x0, x1, y0, y1 = ranges[z]
        print(f"  z{z}: {(x1 - x0 + 1) * (y1 - y0 + 1)} tiles (x {x0}..{x1}, y {y0}..{y1})")
        print(f"    raw ST_AsMVT, pgbench -M {args.pg_mode} -c {args.pg_clients}: {cells(f.raw)}")
        print(f"    ours, no cache (gunicorn {args.workers}x sync, wrk):  {cells(f.ours)}")
        print(f"    ours, cache on (hits):                        {cells(f.cached)}")
        print(f"    tipg ({args.workers} uvicorn workers):                    {cells(f.tipg)}")
        best = lambda rs: max((r.rate for r in rs), default=0.0)  # noqa: E731
        for label, ours in (("no cache", f.ours), ("cache", f.cached)):
            if not ours:
                continue
            parts = []
            if f.raw:
                ratio = best(ours) / best(f.raw)
                parts.append(
                    f"{ratio:.0%} of raw (goal >= {GOAL_RAW:.0%}: {'met' if ratio >= GOAL_RAW else 'NOT met'})"
                )
            if f.tipg:
                ratio = best(ours) / best(f.tipg)
                parts.append(f"{ratio:.2f}x tipg (goal >= {GOAL_TIPG}x: {'met' if ratio >= GOAL_TIPG else 'NOT met'})")
            if parts:
                print(f"    ours ({label}), best runs: " + "; ".join(parts))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        ns.django_setup()
        stations = ns.ensure_data(args)
        box = ns.county_box()
        ranges = {z: tile_range(box, z) for z in args.zoom_list}
        figures = {z: Figures() for z in args.zoom_list}
        with tempfile.TemporaryDirectory(prefix="bench-tiles-") as tmp_name:
            tmp = Path(tmp_name)
            lua = tmp / "tiles.lua"
            lua.write_text(WRK_LUA)
            if not args.skip_raw:
                for z in args.zoom_list:
                    script = pgbench_script(z, ranges[z])
                    for i in range(args.repeat):
                        result = run_pgbench(args, script)
                        say(f"raw z{z} run {i + 1}: {result.rate:,.1f} tiles/s ({result.count} tiles)")
                        figures[z].raw.append(result)
            from django.db import connection

            connection.close()
            if not args.skip_ours:
                for cache, into in ((False, "ours"), (True, "cached")):
                    port = ns.free_port(args.port)
                    with stopping(start_gunicorn(args, port, tmp, cache=cache), "gunicorn") as process:
                        measure_server(
                            args,
                            f"ours ({'cache' if cache else 'no cache'})",
                            process,
                            f"http://127.0.0.1:{port}",
                            "/tiles/stations/{z}/{x}/{y}.mvt",
                            ranges,
                            lua,
                            tmp / "gunicorn.log",
                            {z: getattr(figures[z], into) for z in args.zoom_list},
                            prefill=cache,
                        )
            if not args.skip_tipg:
                port = ns.free_port(args.port + 50)
                columns = "id,name,kind,address,phone,amenities,organization_name"
                with stopping(start_tipg(args, port, tmp), "tipg") as process:
                    measure_server(
                        args,
                        "tipg",
                        process,
                        f"http://127.0.0.1:{port}",
                        f"/collections/public.{TABLE}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}?properties={columns}",
                        ranges,
                        lua,
                        tmp / "tipg.log",
                        {z: figures[z].tipg for z in args.zoom_list},
                    )
        report(args, stations, ranges, figures)
        return 0
    except BenchError as exc:
        print(f"[bench] FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
