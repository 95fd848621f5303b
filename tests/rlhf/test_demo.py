"""``rl-editor demo --quick`` end to end, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_demo_quick_runs_the_whole_pipeline_and_says_how_to_open_the_rater_page(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "rl_editor.cli", "demo", "--quick", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=230)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    run = out / "run"
    assert (run / "report.md").is_file()
    assert (run / "iter-01" / "eval.json").is_file()
    assert "new policy wins" in text
    assert f"rl-editor serve --manifest {run / 'iter-01' / 'candidates' / 'manifest.json'}" in text
    assert "rl-editor raters add" in text
    for stage in ("bootstrap/policy", "iter-01/candidates", "iter-01/reward", "iter-01/policy", "iter-01/eval"):
        assert f"] {stage} ..." in text
