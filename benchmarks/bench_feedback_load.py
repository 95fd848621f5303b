"""Load test of the feedback server on loopback.

200 simulated raters (asyncio + aiohttp, whose client costs a fraction of httpx's
``AsyncClient`` per request, so the load generator leaves the server more of the
machine) fetch tasks and submit judgments against
a real ``rl-editor serve`` (uvicorn) subprocess on 127.0.0.1 for a bounded time,
then the acknowledged client ids are compared with the database.

Each rater loops: ``GET /api/next`` -> think -> ``POST /api/judgments``. The
think time (uniform in ``[0.5, 1.5] x --think-ms``) stands in for listening;
``--think-ms 0`` is a closed-loop stress test where latency is queueing.

Prints throughput (requests/s, judgments/s), p50/p99 latency per route, the
server's CPU time per request (on a busy machine latency is mostly waiting for
a core; CPU per request says what the server itself costs), errors, and
lost/duplicated judgments. Targets: p99 < 100 ms, zero errors,
zero lost or duplicated judgments.

Usage::

    python benchmarks/bench_feedback_load.py [--quick] [--raters 200] [--seconds 20]
        [--think-ms 2000] [--db URL] [--runs 5]

``--runs N`` repeats the whole measurement (a new server each time) and ends
with how many runs met the target; ``--think-ms 0`` measures capacity
(judgments/s with every rater always waiting on the server).

The test data (a manifest of short generated wavs) is made in a temporary folder.
Each judgment carries a listening record (``"listening": {...}``), as the rater
page sends it.

PostgreSQL: a throwaway server like the one ``tests/feedback`` starts (trust
authentication on 127.0.0.1, ``fsync=off``, 300 connections), as root::

    D=$(mktemp -d) && chown postgres "$D"
    runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$D/data" -U postgres --auth=trust -E UTF8 --no-sync
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$D/data" -l "$D/log" -w start \
        -o "-p 55432 -k $D -h 127.0.0.1 -c fsync=off -c max_connections=300"
    runuser -u postgres -- /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p 55432 -U postgres bench
    python benchmarks/bench_feedback_load.py --db postgresql+psycopg://postgres@127.0.0.1:55432/bench --runs 5
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$D/data" -m fast -w stop && rm -rf "$D"
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import soundfile as sf

from rl_editor.feedback.listening import full_listening
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry


def make_manifest(root: Path, n_songs: int = 10, n_candidates: int = 8, n_beats: int = 32, sr: int = 8000) -> Manifest:
    """Short sine-and-click songs with random candidate action lists (audio of candidates = the song)."""
    rng = np.random.default_rng(0)
    songs = []
    for s in range(n_songs):
        duration = n_beats * 0.5
        t = np.arange(int(duration * sr)) / sr
        (root / "songs").mkdir(parents=True, exist_ok=True)
        sf.write(root / "songs" / f"s{s}.wav", (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
        beats = [0.5 * i for i in range(n_beats)]
        cands = []
        for c in range(n_candidates):
            actions = rng.choice([0, 0, 1, 2], size=n_beats).tolist()
            actions[0] = actions[-1] = 0
            cands.append(Candidate(f"s{s}-c{c}", 0.5, f"songs/s{s}.wav", duration, actions, "bench", c))
        songs.append(SongEntry(f"songs/s{s}.wav", f"s{s}", duration, beats, beats[::4], cands))
    manifest = Manifest(root=root.resolve(), songs=songs)
    manifest.save()
    return manifest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def rater(client: aiohttp.ClientSession, token: str, until: float, think_s: float, stats: dict) -> None:
    rng = random.Random(token)
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.uniform(0, think_s))  # raters do not arrive in lockstep
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            async with client.get("/api/next", headers=headers) as response:
                status, task = response.status, await response.json()
        except (TimeoutError, aiohttp.ClientError) as exc:
            stats["errors"].append(f"next: {exc!r}")
            continue
        stats["next"].append(time.perf_counter() - t0)
        if status != 200:
            stats["errors"].append(f"next: {status}")
            continue
        if task.get("done"):
            return
        for part in [task["song"], task["a"]] + ([task["b"]] if task.get("b") else []):  # listened claims need it
            async with client.get(part["audio_url"], headers=headers) as response:
                await response.read()
        await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)
        vote = {
            "client_id": str(uuid.uuid4()),
            "task_id": task["task_id"],
            "preference": rng.choice("ab"),
            "strength": rng.choice((1, 2, 3)),
            "notes": "",
            "time_spent_ms": 1000,
            "listening": full_listening(task),
        }
        for _attempt in range(3):  # retry with the same client id, as the rater page does
            t0 = time.perf_counter()
            try:
                async with client.post("/api/judgments", json=vote, headers=headers) as response:
                    status, text = response.status, await response.text()
            except (TimeoutError, aiohttp.ClientError) as exc:
                stats["errors"].append(f"judge: {exc!r}")
                continue
            stats["judge"].append(time.perf_counter() - t0)
            if status in (200, 201):
                stats["acknowledged"].append(vote["client_id"])
            else:
                stats["errors"].append(f"judge: {status} {text[:100]}")
            break


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def run_once(args: argparse.Namespace) -> bool:
    """One measurement against a new server; prints its figures and returns whether the target was met."""
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as tmp:
        manifest = make_manifest(Path(tmp))
        with FeedbackStore.open(args.db, manifest.path) as store:
            store.create_tasks_from_manifest(manifest, TaskConfig(raters_per_pair=args.raters, gold_per_rater=0))
            run_tag = uuid.uuid4().hex[:8]  # a reused --db keeps earlier runs' raters and judgments
            tokens = [store.add_rater(f"bench-{run_tag}-{i}") for i in range(args.raters)]
            stored_before = store.judgment_client_ids()
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "rl_editor.cli",
            "serve",
            "--manifest",
            str(manifest.path),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ] + (["--db", args.db] if args.db else [])
        cmd += ["--request-threads", str(args.request_threads)] if args.request_threads else []
        proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{base}/api/me", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            stats: dict[str, list] = {"next": [], "judge": [], "errors": [], "acknowledged": []}
            until = time.monotonic() + args.seconds
            started = time.perf_counter()

            async def run() -> None:
                # one connection per rater, from one session (one pool)
                connector = aiohttp.TCPConnector(limit=args.raters)
                timeout = aiohttp.ClientTimeout(total=30)
                async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
                    await asyncio.gather(*(rater(client, t, until, args.think_ms / 1000, stats) for t in tokens))

            cpu_before, client_cpu = server_cpu_seconds(proc.pid), time.process_time()
            load_before = os.getloadavg()[0]
            asyncio.run(run())
            client_cpu = time.process_time() - client_cpu
            elapsed = time.perf_counter() - started
            server_cpu = server_cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        with FeedbackStore.open(args.db, manifest.path) as store:
            stored = store.judgment_client_ids() - stored_before
        acknowledged = stats["acknowledged"]
        lost = set(acknowledged) - stored
        duplicated = len(acknowledged) - len(set(acknowledged))
        n_requests = len(stats["next"]) + len(stats["judge"])
        print(
            f"feedback load: {args.raters} raters, {elapsed:.1f} s, think {args.think_ms:.0f} ms, "
            f"db {'sqlite' if not args.db else args.db.split(':')[0]}"
        )
        print(f"  throughput: {n_requests / elapsed:.1f} requests/s, {len(acknowledged) / elapsed:.1f} judgments/s")
        for route in ("next", "judge"):
            print(
                f"  {route:5s}: n={len(stats[route])} p50={pct(stats[route], 50):.1f} ms "
                f"p99={pct(stats[route], 99):.1f} ms max={pct(stats[route], 100):.1f} ms"
            )
        print(
            f"  server CPU: {server_cpu:.1f} s ({1000 * server_cpu / max(n_requests, 1):.1f} ms per request), load generator CPU {client_cpu:.1f} s; "
            f"machine load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
        )
        print(f"  errors: {len(stats['errors'])} {stats['errors'][:3]}")
        print(
            f"  judgments acknowledged: {len(acknowledged)}, stored: {len(stored)}, lost: {len(lost)}, "
            f"duplicated acknowledgements: {duplicated}, stored but unacknowledged: {len(stored - set(acknowledged))}"
        )
        slow_routes = [route for route in ("next", "judge") if not pct(stats[route], 99) < 100]
        ok = not slow_routes and not stats["errors"] and not lost and not duplicated
        print(
            f"  target (p99 < 100 ms on each route, no errors, none lost or duplicated): "
            f"{'met' if ok else 'NOT met'}" + (f" (p99 over 100 ms: {', '.join(slow_routes)})" if slow_routes else ""),
            flush=True,
        )
        return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 raters for 5 s")
    parser.add_argument("--raters", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--think-ms", type=float, default=2000.0, help="mean pause between fetching and judging")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite beside the manifest)")
    parser.add_argument("--runs", type=int, default=1, help="repeat the measurement, each with a new server")
    parser.add_argument("--request-threads", type=int, default=None, help="the server's --request-threads")
    args = parser.parse_args()
    if args.quick:
        args.raters, args.seconds = 50, 5.0
    met = [run_once(args) for _ in range(args.runs)]
    if args.runs > 1:
        print(f"target met in {sum(met)} of {args.runs} consecutive runs")


if __name__ == "__main__":
    main()
