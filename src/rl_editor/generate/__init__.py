"""Candidate generation: several edits per song at several temperatures, with a manifest.

``generate_candidates(GenerateConfig(policy_path, songs_dir, out_dir))`` writes
``out_dir/<song_id>/<edit_id>.wav`` for each distinct edit and
``out_dir/manifest.json`` (format in :mod:`rl_editor.generate.manifest`).
Names are imported lazily so ``import rl_editor.generate`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Manifest": "manifest",
    "SongEntry": "manifest",
    "Candidate": "manifest",
    "ManifestError": "manifest",
    "GenerateConfig": "candidates",
    "GenerateError": "candidates",
    "EditGenerator": "candidates",
    "CandidateSpec": "candidates",
    "DEFAULT_TEMPERATURES": "candidates",
    "candidate_seed": "candidates",
    "plan_candidates": "candidates",
    "dedupe_actions": "candidates",
    "find_songs": "candidates",
    "new_song_entry": "candidates",
    "write_candidate": "candidates",
    "process_song": "candidates",
    "GenerateReport": "run",
    "run_generation": "run",
    "generate_candidates": "run",
    "load_policy": "pool",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"rl_editor.generate.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'rl_editor.generate' has no attribute {name!r}")
