"""Shared by the security tests: the feedback tests' helpers (manifest writer, server starter) as a module."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _feedback_test_helpers():
    """``tests/feedback/conftest.py`` as a module, for its manifest writer and server starter."""
    path = Path(__file__).resolve().parents[1] / "feedback" / "conftest.py"
    spec = importlib.util.spec_from_file_location("feedback_test_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HELPERS = _feedback_test_helpers()
