"""Candidate generation: several edits per song at several temperatures, with a manifest.

``generate_candidates(GenerateConfig(policy_path, songs_dir, out_dir))`` writes
``out_dir/<song_id>/<edit_id>.wav`` for each distinct edit and
``out_dir/manifest.json`` (format in :mod:`rl_editor.generate.manifest`).
Names are imported lazily so ``import rl_editor.generate`` stays light.
"""

from __future__ import annotations

from rl_editor.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "manifest": ["Manifest", "SongEntry", "Candidate", "ManifestError"],
        "candidates": [
            "GenerateConfig",
            "GenerateError",
            "EditGenerator",
            "CandidateSpec",
            "DEFAULT_TEMPERATURES",
            "candidate_seed",
            "plan_candidates",
            "dedupe_actions",
            "find_songs",
            "new_song_entry",
            "write_candidate",
            "process_song",
        ],
        "run": ["GenerateReport", "run_generation", "generate_candidates"],
        "pool": ["load_policy"],
    },
)
