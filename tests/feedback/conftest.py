"""Fixtures of the feedback tests: a tiny manifest of generated wavs, and databases.

``db_url`` is parametrized over SQLite and a real throwaway PostgreSQL server
(started from ``/usr/lib/postgresql/*/bin`` on a free port, as the ``postgres``
user when running as root; skipped with a reason when not installed).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rl_editor.generate.manifest import Candidate, Manifest, SongEntry

SAMPLE_RATE = 8000
N_BEATS = 16
BEAT_S = 0.25


def write_test_manifest(root: Path, n_songs: int = 2, n_candidates: int = 4, seed: int = 0) -> Path:
    """Songs of 16 beats (a click on each beat) with candidate edits rendered by plain slicing."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    songs = []
    for s in range(n_songs):
        song_id = f"song{s}"
        duration = N_BEATS * BEAT_S + 0.1
        t = np.arange(int(duration * SAMPLE_RATE)) / SAMPLE_RATE
        audio = 0.1 * np.sin(2 * np.pi * (220 + 40 * s) * t)
        beats = [round(0.05 + i * BEAT_S, 4) for i in range(N_BEATS)]
        for b in beats:
            k = int(b * SAMPLE_RATE)
            audio[k : k + 80] += 0.5
        (root / "songs").mkdir(exist_ok=True)
        sf.write(root / "songs" / f"{song_id}.wav", audio.astype(np.float32), SAMPLE_RATE)
        bounds = np.append(beats, duration)
        bounds[0] = 0.0
        candidates = []
        for c in range(n_candidates):
            actions = rng.choice([0, 0, 0, 1, 2], size=N_BEATS).tolist()
            actions[0] = actions[-1] = 0
            pieces = [
                audio[int(bounds[i] * SAMPLE_RATE) : int(bounds[i + 1] * SAMPLE_RATE)]
                for i, a in enumerate(actions)
                for _ in range({0: 1, 1: 0, 2: 2}[a])
            ]
            clip = np.concatenate(pieces)
            rel = f"{song_id}/{song_id}-c{c}.wav"
            (root / song_id).mkdir(exist_ok=True)
            sf.write(root / rel, clip.astype(np.float32), SAMPLE_RATE)
            candidates.append(
                Candidate(
                    edit_id=f"{song_id}-t0.{c}-{c}",
                    temperature=0.1 * c,
                    path=rel,
                    duration=len(clip) / SAMPLE_RATE,
                    actions=actions,
                    policy="policy-test",
                    seed=c,
                )
            )
        songs.append(
            SongEntry(
                song=f"songs/{song_id}.wav",
                song_id=song_id,
                duration_seconds=duration,
                beats=beats,
                downbeats=beats[::4],
                candidates=candidates,
            )
        )
    manifest = Manifest(root=root.resolve(), songs=songs)
    manifest.save()
    return manifest.path


def fetch_task_audio(client, task: dict, headers: dict) -> None:
    """GET every version of a task as ``/api/next`` gave it (what a page playing them does)."""
    for part in [task["song"], task["a"]] + ([task["b"]] if task.get("b") else []):
        assert client.get(part["audio_url"], headers=headers).status_code == 200


def heard_in_full(client, task: dict, headers: dict) -> dict[str, float]:
    """Fetch every version of a task, and the listening record claiming each was heard in full."""
    from rl_editor.feedback.listening import full_listening

    fetch_task_audio(client, task, headers)
    return full_listening(task)


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    return write_test_manifest(tmp_path / "run")


@pytest.fixture
def manifest(manifest_path: Path) -> Manifest:
    return Manifest.load(manifest_path)


@pytest.fixture
def make_test_manifest():
    """:func:`write_test_manifest`, for tests that need a second manifest."""
    return write_test_manifest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found and Path(found[-1]).with_name("pg_ctl").exists() else None


@pytest.fixture(scope="session")
def postgres_server():
    """URL prefix of a throwaway PostgreSQL server, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5999``."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="rl-editor-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as a normal user")
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    run = lambda args: subprocess.run(as_user + args, capture_output=True, text=True, timeout=120)  # noqa: E731
    result = run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {result.stderr.strip()[:200]}")
    options = f"-p {port} -k {base} -h 127.0.0.1 -c fsync=off -c max_connections=300"
    result = run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"])
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"pg_ctl start failed: {result.stderr.strip()[:200]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


def new_postgres_database(server: str) -> str:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{plain}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database: a SQLite file, or a new database on the throwaway PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    return new_postgres_database(request.getfixturevalue("postgres_server"))


def start_server(
    manifest_path: Path, db_url: str | None, port: int | None = None, env: dict | None = None
) -> tuple[subprocess.Popen, str]:
    """Start ``rl-editor serve`` (real uvicorn) in a subprocess; returns (process, base URL) once it answers."""
    import httpx

    port = port or _free_port()
    args = [
        sys.executable,
        "-m",
        "rl_editor.cli",
        "serve",
        "--manifest",
        str(manifest_path),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if db_url:
        args += ["--db", db_url]
    proc = subprocess.Popen(
        args,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/me", timeout=1).status_code == 401:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


@pytest.fixture
def server_factory():
    """``start(manifest_path, db_url) -> (process, base_url)``; every process started is killed at the end."""
    started: list[subprocess.Popen] = []

    def start(manifest_path: Path, db_url: str | None) -> tuple[subprocess.Popen, str]:
        proc, base = start_server(manifest_path, db_url)
        started.append(proc)
        return proc, base

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
