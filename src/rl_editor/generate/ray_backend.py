"""Running song tasks on a Ray cluster: one actor per CPU, each loading the policy once.

The policy file travels through Ray's object store (its bytes), so the nodes
need not see the driver's copy. Songs are read and candidate audio is written
by path: ``songs_dir`` and ``out_dir`` must be on a file system every node
mounts (as usual for a Ray cluster). The driver collects the outcomes and
writes the manifest, so the output equals the process pool's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rl_editor.generate.candidates import GenerateError, SongOutcome, SongTask, process_song
from rl_editor.generate.pool import GeneratorLoader, load_policy, single_threaded_torch


class SongWorker:
    """Ray actor body: holds one loaded policy and processes songs with it."""

    def __init__(self, policy_bytes: bytes, policy_name: str, loader: GeneratorLoader, needs_policy: bool) -> None:
        single_threaded_torch()
        self.generator = None
        if needs_policy:
            with tempfile.TemporaryDirectory(prefix="rl-editor-policy-") as folder:  # read once, then gone
                path = Path(folder) / policy_name
                path.write_bytes(policy_bytes)
                self.generator = loader(path)

    def run(self, task: SongTask) -> SongOutcome:
        if not Path(task.song_path).is_file():
            raise GenerateError(
                f"{task.song_path}: not visible on Ray node {os.uname().nodename}; "
                "put the songs on a file system every node mounts"
            )
        return process_song(task, self.generator)


def connect(address: str, num_cpus: int | None = None) -> bool:
    """Join Ray at ``address`` (``"auto"``: the Ray already running here, else a new local one).

    Returns whether this call started Ray (and so should shut it down).
    """
    import ray

    if ray.is_initialized():
        return False
    if address == "auto":
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return True


def iter_ray(
    tasks: Sequence[SongTask],
    policy_path: Path,
    address: str,
    workers: int | None = None,
    loader: GeneratorLoader = load_policy,
) -> Iterator[SongOutcome]:
    """Run the tasks on Ray actors; outcomes arrive as songs finish.

    Parameters
    ----------
    tasks : sequence of SongTask
        One per song.
    policy_path : path
        Policy checkpoint, read here and shipped to the actors.
    address : str
        Ray address, or ``"auto"``.
    workers : int, optional
        Number of actors (default: the cluster's CPUs).
    """
    import ray
    from ray.util import ActorPool

    started = connect(address, num_cpus=workers)
    try:
        n_cpus = int(ray.cluster_resources().get("CPU", 1))
        n_actors = max(1, min(workers or n_cpus, n_cpus, len(tasks)))
        needs_policy = any(t.existing is None for t in tasks)
        policy_ref = ray.put(Path(policy_path).read_bytes() if needs_policy else b"")
        actor_cls = ray.remote(num_cpus=1)(SongWorker)
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if "RL_EDITOR_CACHE_DIR" in os.environ:
            env["RL_EDITOR_CACHE_DIR"] = os.environ["RL_EDITOR_CACHE_DIR"]
        actors: list[Any] = [
            actor_cls.options(runtime_env={"env_vars": env}).remote(
                policy_ref, Path(policy_path).name, loader, needs_policy
            )
            for _ in range(n_actors)
        ]
        pool = ActorPool(actors)
        try:
            yield from pool.map_unordered(lambda actor, task: actor.run.remote(task), list(tasks))
        finally:
            for actor in actors:
                ray.kill(actor)
    finally:
        if started:
            ray.shutdown()
