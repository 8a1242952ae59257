"""Benchmark: check-ins per second at one activity through the whole stack (gunicorn, Django, PostGIS).

    .venv/bin/python bench/engagement_checkins.py        # --help for the options

1. Uses its own database (BENCH_CHECKINS_DATABASE_URL, default gridline_bench_checkins): creates it if missing and
   migrates it. Each run adds a county meeting open to all members and --members party members with a token each
   (the points ledger is append-only, so runs add and never delete).
2. Serves the project with gunicorn (DEBUG off, --workers like scripts/serve.sh) on a free port from 8401.
3. --clients threads, each with one keep-alive HTTP connection, send every member's check-in by position (a point
   within 80 m of the venue) once; --resend of them are sent a second time (the same client_uuid). A warm-up of 20
   check-ins at another activity is not measured.
4. Prints check-ins per second, p50/p99 latency, and checks the database: one check-in and one points entry per
   member, none lost, none doubled.

A report, not a test: it exits 0 whether or not the numbers please, and non-zero only when something could not
run or a check-in was lost or doubled.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import nearest_stations as ns  # noqa: E402 - shared helpers: ports, gunicorn, percentiles
from benchdb import ensure_database  # noqa: E402

BenchError = ns.BenchError
say = ns.say
VENUE = (109.92, 35.17)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--database-url",
        default=ns.env_default(
            "BENCH_CHECKINS_DATABASE_URL", "postgis://gridline:gridline@localhost:5432/gridline_bench_checkins"
        ),
    )
    p.add_argument("--members", type=int, default=ns.env_default("BENCH_MEMBERS", 3000, int))
    p.add_argument("--resend", type=float, default=0.1, help="share of members whose check-in is sent twice")
    p.add_argument("--clients", type=int, default=ns.env_default("BENCH_CLIENTS", 8, int))
    p.add_argument("--workers", type=int, default=ns.env_default("BENCH_WORKERS", (os.cpu_count() or 2) + 1, int))
    p.add_argument("--worker-class", default="sync")
    p.add_argument("--gunicorn-threads", type=int, default=1)
    p.add_argument("--port", type=int, default=ns.env_default("BENCH_CHECKINS_PORT", 8401, int))
    return p.parse_args(argv)


def setup(args: argparse.Namespace):
    ensure_database(args.database_url, say=say)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_members(args: argparse.Namespace, run: str):
    """A county meeting running now, a warm-up activity, and the members with their tokens."""
    import datetime as dt

    from django.contrib.gis.geos import Point
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from engagement.models import Activity
    from grid.models import Role, User
    from layers.models import Organization, Person, PersonCategory

    now = timezone.now()
    branch = Organization.objects.create(code=f"BENCH-{run}", name=f"bench {run}", kind=Organization.Kind.BRANCH)
    common = dict(
        kind=Activity.Kind.PARTY_LECTURE,
        branch=branch,
        location=Point(*VENUE, srid=4326),
        starts_at=now - dt.timedelta(minutes=5),
        ends_at=now + dt.timedelta(hours=2),
        audience=Activity.Audience.ALL,
        radius_m=300,
    )
    meeting = Activity.objects.create(title=f"bench {run}", **common)
    warm = Activity.objects.create(title=f"bench warm-up {run}", **common)
    users = User.objects.bulk_create(
        User(username=f"bench-{run}-{i}", role=Role.RESIDENT, password="!") for i in range(args.members)
    )
    people = Person.objects.bulk_create(
        Person(name=f"bench {i}", account=u, branch=branch, categories=[PersonCategory.PARTY_MEMBER])
        for i, u in enumerate(users)
    )
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in users)
    return meeting, warm, [(p.pk, t.key) for p, t in zip(people, tokens, strict=True)]


def plan(members, share: float) -> list[tuple[int, str, str]]:
    rng = random.Random(7)
    sends = []
    for person_id, token in members:
        lon = VENUE[0] + rng.uniform(-0.0007, 0.0007)
        lat = VENUE[1] + rng.uniform(-0.0005, 0.0005)
        body = json.dumps(
            {"client_uuid": str(uuid.uuid4()), "method": "geofence", "lon": lon, "lat": lat, "accuracy": 15}
        )
        sends.append((person_id, token, body))
        if rng.random() < share:
            sends.append((person_id, token, body))
    rng.shuffle(sends)
    return sends


def fire(port: int, path: str, sends, clients: int) -> tuple[float, list[float], dict[int, int]]:
    """Send all, `clients` connections at once; (seconds, latencies in ms, count per status)."""
    queue = list(reversed(sends))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures: list[str] = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                _person, token, body = queue.pop()
            headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            took = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(took)
                statuses[reply.status] = statuses.get(reply.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise BenchError(f"{len(failures)} requests got no answer, e.g. {failures[0]}")
    return time.monotonic() - started, sorted(latencies), statuses


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        setup(args)
        run = uuid.uuid4().hex[:8]
        say(f"creating {args.members} members (run {run})")
        meeting, warm, members = make_members(args, run)
        sends = plan(members, args.resend)
        port = ns.free_port(args.port)
        log = Path(tempfile.mkstemp(prefix="bench-checkins-", suffix=".log")[1])
        with ns.gunicorn(args, port, log) as process:
            deadline = time.monotonic() + 60
            while True:
                try:
                    fire(port, f"/api/v1/engagement/activities/{warm.pk}/checkins/", plan(members[:20], 0), 2)
                    break
                except BenchError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise BenchError(f"gunicorn did not answer:\n{log.read_text()[-3000:]}") from None
                    time.sleep(0.5)
            path = f"/api/v1/engagement/activities/{meeting.pk}/checkins/"
            seconds, latencies, statuses = fire(port, path, sends, args.clients)
        return report(args, meeting, sends, seconds, latencies, statuses)
    except BenchError as exc:
        print(f"[bench] error: {exc}", file=sys.stderr)
        return 1


def report(args, meeting, sends, seconds, latencies, statuses) -> int:
    from engagement.models import CheckIn, PointsEntry

    rows = CheckIn.objects.filter(activity=meeting)
    made = rows.count()
    people = rows.values("person").distinct().count()
    sources = [f"engagement.checkin:{pk}" for pk in rows.values_list("pk", flat=True)]
    points = PointsEntry.objects.filter(source__in=sources)
    print(
        f"Check-ins at one activity: {args.members:,} members, {len(sends):,} requests "
        f"({len(sends) - args.members:,} resends), {args.clients} clients, gunicorn {args.workers}x{args.worker_class}"
    )
    print(
        f"  {len(sends) / seconds:,.0f} requests/s   {args.members / seconds:,.0f} check-ins/s   "
        f"p50 {ns.percentile(latencies, 50):.1f} ms   p99 {ns.percentile(latencies, 99):.1f} ms   "
        f"({seconds:.1f} s)"
    )
    print(f"  answers: {dict(sorted(statuses.items()))}")
    print(f"  check-ins stored: {made:,} for {people:,} members; points entries: {points.count():,}")
    ok = made == people == args.members == points.count() and statuses.get(201) == args.members
    print("  none lost, none doubled" if ok else "  LOST OR DOUBLED CHECK-INS")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
