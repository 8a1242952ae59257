"""Benchmark: the nearest-stations endpoint through the API beside the same KNN query run raw in PostGIS.

    make bench                                  # or: .venv/bin/python bench/nearest_stations.py --help

1. Makes sure the database (DATABASE_URL) exists (created with PostGIS when missing), is migrated and
   holds at least --min-stations stations (otherwise runs `manage.py load_demo --scale N --replace`),
   then ANALYZEs grid_station.
2. Raw: pgbench runs the KNN query (a random point of the county's box per transaction) for --duration
   seconds with --pg-clients clients.
3. API: gunicorn serves project.wsgi (DEBUG off) on a free port from 8201, and wrk drives
   GET /api/v1/stations/nearest/ with bench/nearest_stations.lua, a different point per request.
4. Prints requests/s, p50 and p99 of both, the ratio API / raw, and whether the goals are met.

A report, not a test: it exits 0 whether or not the goals are met, and non-zero only when something
could not run (no data, pgbench or wrk failing, gunicorn not answering, HTTP errors under load).
Every option has an environment variable (BENCH_…) so that `make bench` can be tuned without editing.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "nearest_stations.lua"
ENDPOINT = "/api/v1/stations/nearest/"

# Goals: the API keeps at least this share of raw PostGIS throughput, under this p99.
GOAL_RATIO = 0.35
GOAL_P99_MS = 20.0


class BenchError(RuntimeError):
    """Something the benchmark needs could not run: reported, exit status 1."""


def env_default(name: str, default, cast=str):
    value = os.environ.get(name)
    return default if value in (None, "") else cast(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    cpus = os.cpu_count() or 2
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--scale",
        type=int,
        default=env_default("BENCH_SCALE", 5000, int),
        help="load_demo --scale when the database holds too few stations (BENCH_SCALE)",
    )
    p.add_argument(
        "--min-stations",
        type=int,
        default=env_default("BENCH_MIN_STATIONS", 1_000_000, int),
        help="fewer stations than this trigger load_demo --replace (BENCH_MIN_STATIONS)",
    )
    p.add_argument(
        "--duration",
        type=int,
        default=env_default("BENCH_DURATION", 20, int),
        help="seconds of each measured run (BENCH_DURATION)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=env_default("BENCH_WARMUP", 3, int),
        help="seconds of unmeasured load before each run (BENCH_WARMUP)",
    )
    p.add_argument(
        "--limit", type=int, default=env_default("BENCH_LIMIT", 5, int), help="stations per answer (BENCH_LIMIT)"
    )
    p.add_argument(
        "--pg-clients",
        type=int,
        default=env_default("BENCH_PG_CLIENTS", 2, int),
        help="pgbench clients (BENCH_PG_CLIENTS)",
    )
    p.add_argument(
        "--pg-mode",
        choices=["simple", "extended", "prepared"],
        default=env_default("BENCH_PG_MODE", "prepared"),
        help="pgbench protocol: prepared is the fastest a client can ask (BENCH_PG_MODE)",
    )
    p.add_argument(
        "--threads", type=int, default=env_default("BENCH_THREADS", 2, int), help="wrk threads (BENCH_THREADS)"
    )
    p.add_argument(
        "--connections",
        type=int,
        default=env_default("BENCH_CONNECTIONS", 4, int),
        help="wrk connections (BENCH_CONNECTIONS)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=env_default("BENCH_WORKERS", cpus + 1, int),
        help="gunicorn workers (BENCH_WORKERS)",
    )
    p.add_argument(
        "--worker-class",
        default=env_default("BENCH_WORKER_CLASS", "sync"),
        help="gunicorn worker class (BENCH_WORKER_CLASS)",
    )
    p.add_argument(
        "--gunicorn-threads",
        type=int,
        default=env_default("BENCH_GUNICORN_THREADS", 1, int),
        help="threads per gunicorn worker, for --worker-class gthread (BENCH_GUNICORN_THREADS)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=env_default("BENCH_PORT", 8201, int),
        help="first port to try for gunicorn (BENCH_PORT)",
    )
    p.add_argument("--skip-raw", action="store_true", help="skip pgbench (no ratio)")
    p.add_argument("--skip-api", action="store_true", help="skip gunicorn + wrk")
    args = p.parse_args(argv)
    if args.duration < 1 or args.connections < args.threads or args.limit < 1:
        p.error("need --duration >= 1, --connections >= --threads and --limit >= 1")
    return args


def say(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- 1. data -----------------------------------------------------------------------------------------


def django_setup() -> None:
    """Create the database of DATABASE_URL when it is missing, then set Django up on it."""
    from benchdb import database_url, ensure_database

    ensure_database(database_url(), say=say)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def ensure_data(args: argparse.Namespace) -> int:
    """Migrate, load the demo county if there are too few stations, ANALYZE; the station count."""
    from django.core.management import call_command, get_commands
    from django.db import connection

    say("migrating the database (if needed)")
    call_command("migrate", interactive=False, verbosity=0)
    count = station_count()
    if count >= args.min_stations:
        say(f"{count:,} stations present (>= {args.min_stations:,}): no load")
    else:
        if "load_demo" not in get_commands():
            raise BenchError(
                f"only {count:,} stations and no load_demo command to load more "
                f"(fixtures/management/commands/load_demo.py)"
            )
        command = [sys.executable, str(ROOT / "manage.py"), "load_demo", "--scale", str(args.scale), "--replace"]
        say(
            f"{count:,} stations present (< {args.min_stations:,}): running {' '.join(command[1:])}, "
            f"which replaces the territory in database {connection.settings_dict['NAME']!r}"
        )
        connection.close()
        started = time.monotonic()
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            raise BenchError("load_demo failed")
        count = station_count()
        say(f"loaded {count:,} stations in {time.monotonic() - started:.0f} s")
        if count < args.min_stations:
            raise BenchError(
                f"load_demo --scale {args.scale} left {count:,} stations, fewer than "
                f"{args.min_stations:,}: raise --scale"
            )
    say("ANALYZE grid_station")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE grid_station")
    return count


def station_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM grid_station")
        return cursor.fetchone()[0]


def county_box() -> tuple[float, float, float, float]:
    """The county's bounding box (min_lon, min_lat, max_lon, max_lat), else the stations' own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(boundary) AS e FROM grid_adminarea WHERE level = 3) a"
        )
        row = cursor.fetchone()
        source = "county boundary"
        if row[0] is None:
            cursor.execute(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(location::geometry) AS e FROM grid_station) a"
            )
            row = cursor.fetchone()
            source = "stations (no county in the database)"
    connection.close()  # the benchmark's own connection must not linger beside the measured ones
    box = tuple(float(v) for v in row)
    say(f"query points: the box of the {source}: lon {box[0]:.4f}..{box[2]:.4f}, lat {box[1]:.4f}..{box[3]:.4f}")
    return box  # type: ignore[return-value]


# --- CPU accounting: the machine may be shared, so say how much of it the measured processes had ------------

_TICK = os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _process_jiffies(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def child_pids(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return found


def database_backend_pids(application_name: str | None = None) -> list[int]:
    """Client backends of the benchmark's database, other than the benchmark's own connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND (%s::text IS NULL OR application_name = %s::text)",
            [application_name] * 2,
        )
        return [row[0] for row in cursor.fetchall()]


@dataclass
class CpuWindow:
    """CPU used during a window of a run: by the measured processes, and by everything on the machine."""

    seconds: float
    ours: float  # CPU-seconds of the load generator, the server and its PostgreSQL backends
    machine: float  # CPU-seconds of all processes

    @property
    def others_cores(self) -> float:
        return max(0.0, self.machine - self.ours) / self.seconds


def measure_cpu(process: subprocess.Popen, duration: float, pids) -> CpuWindow | None:
    """Sample CPU over the middle of a run of `duration` seconds (pids() lists the measured processes)."""
    start = min(2.0, duration * 0.2)
    end = duration - min(1.0, duration * 0.1)
    time.sleep(start)
    if process.poll() is not None or end - start < 0.5:
        return None
    watched = pids()
    before = {pid: _process_jiffies(pid) for pid in watched}
    machine_before, t0 = _machine_jiffies()[0], time.monotonic()
    time.sleep(end - start)
    after = {pid: _process_jiffies(pid) for pid in watched}
    machine_after, t1 = _machine_jiffies()[0], time.monotonic()
    ours = sum(max(0, after[pid] - before[pid]) for pid in watched if after[pid]) / _TICK
    return CpuWindow(t1 - t0, ours, (machine_after - machine_before) / _TICK)


# --- 2. raw PostGIS: pgbench ----------------------------------------------------------------------------


@dataclass
class Result:
    rate: float  # queries or requests per second
    p50_ms: float
    p99_ms: float
    count: int
    cpu: CpuWindow | None = None


def pgbench_path() -> str:
    found = os.environ.get("PGBENCH") or shutil.which("pgbench")
    if not found:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
        found = candidates[-1] if candidates else None
    if not found:
        raise BenchError("pgbench not found (apt: postgresql-contrib / postgresql-client; or set PGBENCH)")
    return found


def pgbench_script(box: tuple[float, float, float, float], limit: int) -> str:
    # random() in pgbench draws integers: a million steps across each side of the box.
    min_lon, min_lat, max_lon, max_lat = box
    point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"
    return (
        f"\\set lon {min_lon!r} + random(0, 1000000) * {(max_lon - min_lon) / 1e6!r}\n"
        f"\\set lat {min_lat!r} + random(0, 1000000) * {(max_lat - min_lat) / 1e6!r}\n"
        f"SELECT id, ST_Distance(location, {point}) FROM grid_station "
        f"ORDER BY location <-> {point} LIMIT {limit};\n"
    )


def pgbench_command(db: dict, *, script: Path, mode: str, clients: int) -> list[str]:
    """pgbench with a custom script against the Django database `db` (its -T duration is added by the caller)."""
    return [
        pgbench_path(),
        "-n",
        "-M",
        mode,
        "-f",
        str(script),
        "-c",
        str(clients),
        "-j",
        str(clients),
        "-h",
        str(db.get("HOST") or "localhost"),
        "-p",
        str(db.get("PORT") or 5432),
        "-U",
        str(db.get("USER") or ""),
        str(db["NAME"]),
    ]


def run_pgbench(args: argparse.Namespace, box: tuple[float, float, float, float]) -> Result:
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = dict(os.environ, PGPASSWORD=str(db.get("PASSWORD") or ""))
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        script = Path(tmp) / "knn.sql"
        script.write_text(pgbench_script(box, args.limit))
        base = pgbench_command(db, script=script, mode=args.pg_mode, clients=args.pg_clients)
        if args.warmup:
            subprocess.run(base + ["-T", str(args.warmup)], env=env, capture_output=True, text=True)
        say(f"raw: pgbench -M {args.pg_mode} -c {args.pg_clients} -T {args.duration} (KNN, LIMIT {args.limit})")
        process = subprocess.Popen(
            base + ["-T", str(args.duration), "-l", "--log-prefix", str(Path(tmp) / "log")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp,
        )
        try:
            cpu = measure_cpu(
                process, args.duration, lambda: [process.pid, *database_backend_pids(application_name="pgbench")]
            )
            stdout, stderr = process.communicate()
        finally:
            if process.poll() is None:
                process.kill()
        if process.returncode != 0:
            raise BenchError(f"pgbench failed ({process.returncode}):\n{stdout}\n{stderr}")
        found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", stdout)
        if not found:
            raise BenchError(f"no tps in pgbench's output:\n{stdout}")
        # Per-transaction log lines: client_id transaction_no latency_us script_no epoch epoch_us
        latencies = sorted(
            int(line.split()[2]) / 1000.0 for log in Path(tmp).glob("log*") for line in log.read_text().splitlines()
        )
    if not latencies:
        raise BenchError("pgbench wrote no transaction log")
    return Result(float(found.group(1)), percentile(latencies, 50), percentile(latencies, 99), len(latencies), cpu)


def percentile(ordered: list[float], pct: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=1000, method="inclusive")[int(pct * 10) - 1]


# --- 3. API: gunicorn + wrk -----------------------------------------------------------------------------


def free_port(first: int) -> int:
    for port in range(first, first + 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError(f"no free port in {first}..{first + 99}")


@contextlib.contextmanager
def gunicorn(args: argparse.Namespace, port: int, log: Path):
    exe = ROOT / ".venv" / "bin" / "gunicorn"
    command = [
        str(exe) if exe.exists() else "gunicorn",
        "project.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.gunicorn_threads),
        "--error-logfile",
        str(log),
        "--log-level",
        "warning",
    ]
    if Path("/dev/shm").is_dir():
        # Workers touch a heartbeat file after every request: in memory, not on disk (gunicorn's advice).
        command += ["--worker-tmp-dir", "/dev/shm"]
    env = dict(os.environ, DEBUG="0", DJANGO_SETTINGS_MODULE="project.settings")
    # Its own session: Ctrl-C reaches the benchmark, which stops gunicorn in order (below).
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        say(f"gunicorn stopped (pid {process.pid})")


def wait_until_answering(process: subprocess.Popen, url: str, log: Path, limit: int) -> None:
    """Poll one real query until it answers correctly: 200, a FeatureCollection of `limit` features."""
    deadline = time.monotonic() + 60
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                body = json.loads(reply.read())
            if body.get("type") == "FeatureCollection" and len(body.get("features", ())) == limit:
                return
            last = f"unexpected body: {str(body)[:300]}"
        except Exception as exc:  # noqa: BLE001 - not up yet, or an HTTP error to show at the deadline
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise BenchError(f"gunicorn did not answer {url} correctly within 60 s: {last}\n{log.read_text()[-3000:]}")


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_command(
    args: argparse.Namespace, *, script: Path, url: str, duration: int, timeout: str, script_args: list[str]
) -> list[str]:
    """wrk with a Lua script, the benchmark's threads and connections, latency statistics and `script_args`."""
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk not found (apt-get install -y wrk; `make bench` installs it)")
    return [
        wrk,
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{duration}s",
        "--latency",
        "--timeout",
        timeout,
        "-s",
        str(script),
        url,
        "--",
        *script_args,
    ]


def run_wrk(
    args: argparse.Namespace,
    base_url: str,
    box: tuple[float, float, float, float],
    duration: int,
    server: subprocess.Popen | None = None,
) -> tuple[Result, str]:
    command = wrk_command(
        args,
        script=LUA,
        url=base_url + ENDPOINT,
        duration=duration,
        timeout="5s",
        script_args=[*(repr(v) for v in box), str(args.limit)],
    )
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cpu = None
        if server is not None:
            cpu = measure_cpu(
                process, duration, lambda: [process.pid, server.pid, *child_pids(server.pid), *database_backend_pids()]
            )
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
    if not (rate and total and p50 and p99):
        raise BenchError(f"could not read wrk's output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise BenchError(
            f"errors under load ({bad.group(0) if bad else ''} {errors.group(0) if errors else ''}):\n{out}"
        )
    ms = lambda m: float(m.group(1)) * _UNIT_MS[m.group(2)]  # noqa: E731
    return Result(float(rate.group(1)), ms(p50), ms(p99), int(total.group(1)), cpu), out


# --- 4. report ------------------------------------------------------------------------------------------


def report(args: argparse.Namespace, stations: int, raw: Result | None, api: Result | None) -> None:
    cpus = os.cpu_count() or 1
    print()
    print(f"Nearest stations (LIMIT {args.limit}) over {stations:,} stations, {cpus} CPUs, {args.duration} s per run")
    rows = [("", "throughput", "p50", "p99", "CPU per op", "others' CPU")]

    def cpu_cells(result: Result) -> tuple[str, str]:
        if result.cpu is None or not result.rate:
            return "?", "?"
        per_op_us = result.cpu.ours / result.cpu.seconds / result.rate * 1e6
        return f"{per_op_us:,.0f} us", f"{result.cpu.others_cores:.2f} cores"

    if raw:
        rows.append(
            (
                f"raw PostGIS: pgbench -M {args.pg_mode}, {args.pg_clients} clients",
                f"{raw.rate:,.0f} q/s",
                f"{raw.p50_ms:.2f} ms",
                f"{raw.p99_ms:.2f} ms",
                *cpu_cells(raw),
            )
        )
    if api:
        rows.append(
            (
                f"API: gunicorn {args.workers}x{args.worker_class}"
                f"{f'/{args.gunicorn_threads}t' if args.gunicorn_threads > 1 else ''}, "
                f"wrk {args.threads} threads/{args.connections} conns",
                f"{api.rate:,.0f} req/s",
                f"{api.p50_ms:.2f} ms",
                f"{api.p99_ms:.2f} ms",
                *cpu_cells(api),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + r[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)))
    print(
        "  (CPU per op: CPU time of the load generator, the server and its PostgreSQL backends per query or "
        "request;\n   others' CPU: what other processes on this machine used meanwhile, which slows both runs)"
    )
    if raw and api:
        ratio = api.rate / raw.rate
        print(
            f"  API / raw throughput: {ratio:.1%}   goal >= {GOAL_RATIO:.0%}: "
            f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}"
        )
    if api:
        print(
            f"  API p99: {api.p99_ms:.2f} ms   goal < {GOAL_P99_MS:.0f} ms: "
            f"{'met' if api.p99_ms < GOAL_P99_MS else 'NOT met'}"
        )
    busy = [r.cpu.others_cores for r in (raw, api) if r and r.cpu]
    if busy and max(busy) > 0.2 * cpus:
        print(
            f"  Warning: other processes used up to {max(busy):.2f} of {cpus} CPUs during the runs; "
            f"figures are lower and less comparable than on an idle machine."
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so gunicorn is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        django_setup()
        stations = ensure_data(args)
        box = county_box()
        raw = None if args.skip_raw else run_pgbench(args, box)
        api = None
        if not args.skip_api:
            port = free_port(args.port)
            base_url = f"http://127.0.0.1:{port}"
            with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp:
                log = Path(tmp) / "gunicorn.log"
                say(f"API: gunicorn {args.workers} {args.worker_class} workers on {base_url}")
                with gunicorn(args, port, log) as process:
                    center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
                    wait_until_answering(
                        process,
                        f"{base_url}{ENDPOINT}?lon={center[0]:.6f}&lat={center[1]:.6f}&limit={args.limit}",
                        log,
                        args.limit,
                    )
                    if args.warmup:
                        run_wrk(args, base_url, box, args.warmup)
                    say(
                        f"API: wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
                        f"-s {LUA.relative_to(ROOT)}"
                    )
                    api, _ = run_wrk(args, base_url, box, args.duration, server=process)
        report(args, stations, raw, api)
        return 0
    except BenchError as exc:
        print(f"[bench] FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
