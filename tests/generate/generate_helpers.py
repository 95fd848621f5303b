"""Helpers shared by the generation tests."""

from __future__ import annotations

import shutil
from pathlib import Path

TEMPERATURES = (0.1, 0.3, 0.5, 0.7, 0.9)


def copy_output(reference_run, target: Path) -> Path:
    """A copy of the reference output folder at ``target`` (same depth, so relative song paths still hold)."""
    shutil.copytree(reference_run.manifest.root, target)
    return target


def candidate_table(manifest) -> list[tuple]:
    """What must not depend on how a run was executed: ids, actions, seeds, durations, relative paths."""
    return [
        (entry.song_id, entry.song, c.edit_id, c.temperature, c.seed, tuple(c.actions), c.duration, c.path, c.policy)
        for entry in manifest.songs
        for c in entry.candidates
    ]
