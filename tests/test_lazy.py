"""Packages load their public names on first use, through one helper."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_a_package_imports_a_name_s_module_only_when_the_name_is_used():
    code = (
        "import sys, rl_editor.reward as r; assert 'rl_editor.reward.select' not in sys.modules; "
        "r.RankedPair; assert 'rl_editor.reward.select' in sys.modules; assert 'RankedPair' in vars(r)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_exported_name_resolves_and_unknown_names_are_named():
    import rl_editor.generate as generate

    assert all(getattr(generate, name) is not None for name in generate.__all__)
    assert set(generate.__all__) <= set(dir(generate))
    with pytest.raises(AttributeError, match="module 'rl_editor.generate' has no attribute 'nothing'"):
        generate.nothing  # noqa: B018
