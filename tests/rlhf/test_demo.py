"""``rl-editor demo`` end to end, as a user runs it (``make demo``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_improves_the_policy_and_says_how_to_open_the_rater_page(tmp_path):
    """The whole pipeline runs, and its new policy beats the old one on held-out songs.

    The full demo (not ``--quick``, whose 6 judgments cannot show anything)
    takes about half a minute. Seed 0, run here, wins 92.2% of 115 decisive
    judgments (Wilson lower bound 0.86). Not every seed improves: with
    ``rl-editor demo --seed S`` seeds 1, 3, 4 and 5 won 83-91%, seed 2 lost
    (18.9%; its reward model reached only 77% held-out accuracy and steered the
    edits away from the rater's favourite length).
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "rl_editor.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = out / "run"
    assert (run / "report.md").is_file()
    win = json.loads((run / "iter-01" / "eval.json").read_text())["win"]
    assert win["wins"] + win["losses"] >= 40, win
    assert win["win_rate"] > 0.65 and win["ci_low"] > 0.5, win
    # results on stdout, progress on stderr
    assert f"new policy wins {win['win_rate']:.1%} of {win['wins'] + win['losses']} decisive judgments" in proc.stdout
    assert f"rl-editor serve --manifest {run / 'iter-01' / 'candidates' / 'manifest.json'}" in proc.stdout
    assert "rl-editor raters add" in proc.stdout
    for stage in ("bootstrap/policy", "iter-01/candidates", "iter-01/reward", "iter-01/policy", "iter-01/eval"):
        assert f"] {stage} ..." in proc.stderr
