"""Running song tasks on one machine: in this process, or a process pool over songs.

Each pool worker loads the policy once (in its initializer) and runs torch on
one thread, so ``W`` workers use ``W`` cores and results do not depend on the
number of workers.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import cast

from rl_editor.generate.candidates import EditGenerator, SongOutcome, SongTask, process_song

GeneratorLoader = Callable[[Path], EditGenerator]


def load_policy(policy_path: Path) -> EditGenerator:
    """The default loader: a ``PPOTrainer`` restored from its checkpoint file."""
    from rl_editor.policy.trainer import PPOTrainer

    # a restored policy always carries its meta (the protocol's non-optional ``meta.version``)
    return cast(EditGenerator, PPOTrainer.from_checkpoint(policy_path))


def single_threaded_torch() -> None:
    """Limit torch (and the BLAS it uses) to one thread in this process."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def iter_in_process(tasks: Sequence[SongTask], generator: EditGenerator | None) -> Iterator[SongOutcome]:
    """Run the tasks one after another here, with torch on one thread (as in the pool)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for task in tasks:
            yield process_song(task, generator)
    finally:
        torch.set_num_threads(threads)


_WORKER_GENERATOR: EditGenerator | None = None


def _init_worker(policy_path: Path, loader: GeneratorLoader, needs_policy: bool) -> None:
    global _WORKER_GENERATOR
    # A worker's results are sent before it exits; skipping the interpreter's teardown
    # (a second or more once torch is loaded) lets the pool shut down at once.
    atexit.register(os._exit, 0)
    single_threaded_torch()
    _WORKER_GENERATOR = loader(policy_path) if needs_policy else None


def _run_task(task: SongTask) -> SongOutcome:
    return process_song(task, _WORKER_GENERATOR)


def iter_pool(
    tasks: Sequence[SongTask], policy_path: Path, workers: int, loader: GeneratorLoader = load_policy
) -> Iterator[SongOutcome]:
    """Run the tasks on ``workers`` processes; outcomes arrive as songs finish.

    Workers are started with ``spawn`` (no state inherited from this process,
    which may hold torch threads or a Ray connection). Stopping the iteration
    (or Ctrl-C) cancels the songs not yet started.
    """
    workers = max(1, min(workers, len(tasks)))
    needs_policy = any(t.existing is None for t in tasks)
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(Path(policy_path), loader, needs_policy),
    )
    try:
        # Submit a few songs per worker at a time, so an interrupted run has not queued everything.
        pending: set[Future] = set()
        queue = list(tasks)[::-1]
        while queue or pending:
            while queue and len(pending) < 2 * workers:
                pending.add(executor.submit(_run_task, queue.pop()))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
