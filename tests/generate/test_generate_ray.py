"""The Ray backend on a local two-CPU Ray gives the same manifest as the process pool."""

from __future__ import annotations

import pytest
import ray
from generate_helpers import TEMPERATURES, candidate_table, copy_output

from rl_editor.generate import GenerateConfig, Manifest, run_generation


@pytest.mark.ray
@pytest.mark.slow
def test_ray_run_equals_the_pool_run(reference_run, policy_path, demo_songs_dir, tmp_path):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = GenerateConfig(
            policy_path, demo_songs_dir, tmp_path / "out", temperatures=TEMPERATURES, ray_address="auto", progress=False
        )
        report = run_generation(config)
        assert ray.is_initialized()  # a Ray started by the caller is left running
    finally:
        ray.shutdown()
    reference = Manifest.load(copy_output(reference_run, tmp_path / "ref"))
    assert candidate_table(report.manifest) == candidate_table(reference)
    assert candidate_table(Manifest.load(tmp_path / "out")) == candidate_table(reference)
    some = reference.songs[0].candidates[0]
    assert (tmp_path / "out" / some.path).read_bytes() == (reference.root / some.path).read_bytes()
