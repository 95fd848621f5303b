"""``state.json`` of a loop run: which steps are complete, and from which settings and inputs.

Each completed step records its outputs, a fresh id, and what it was made from:

- ``settings``: the loop settings the step reads (``pairs``, ``finetune.kl_coef``,
  the training songs' content hashes, ...), flat, JSON values;
- ``inputs``: for each input the id of the step that wrote it in this run
  (``iter-01/reward@3f2a...``), or the SHA-256 of a file given from outside
  (``--policy``, ``--reward-model``);
- ``digest``: SHA-256 of the two, the quick check.

A rerun compares the record a step would have now with the one it has:
a step is done only when its outputs exist and its digest matches. When a
setting changed, the step is redone, and so is every step that reads its
outputs, since their recorded input ids no longer match.
:func:`record_changes` names what changed for the message.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.io_utils import write_json_atomic
from rl_editor.rlhf.errors import RLHFError
from rl_editor.rlhf.layout import RunLayout

SHORT_VALUE_CHARS = 60


@dataclass
class StepRecord:
    """What a step is made from: the settings it reads and the identity of each input."""

    settings: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # a JSON round trip makes tuples lists, so a recorded and a fresh record compare equal
        return json.loads(json.dumps({"settings": self.settings, "inputs": self.inputs}, sort_keys=True, default=str))

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    if len(text) <= SHORT_VALUE_CHARS:
        return text
    half = (SHORT_VALUE_CHARS - 3) // 2  # both ends: paths differ at the end, lists at the start
    return f"{text[:half]}...{text[-half:]}"


def _dict_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``added c; dropped a; b differs`` between two ``{name: value}`` settings (e.g. songs and their hashes)."""
    parts = [
        f"{what} {', '.join(names)}"
        for what, names in (
            ("added", sorted(set(new) - set(old))),
            ("dropped", sorted(set(old) - set(new))),
            ("content of", sorted(k for k in set(old) & set(new) if old[k] != new[k])),
        )
        if names
    ]
    return "; ".join(parts)


def record_changes(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between a recorded and a current :meth:`StepRecord.to_json`, one phrase each.

    Settings read ``kl_coef changed (0.02 -> 0.1)``; inputs read ``iter-01/reward was redone``
    or ``input policy file changed``.
    """
    changes = []
    old_settings, new_settings = recorded.get("settings", {}), now.get("settings", {})
    for key in sorted(set(old_settings) | set(new_settings)):
        old, new = old_settings.get(key), new_settings.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes.append(f"{key} changed ({_dict_change(old, new)})")
        else:
            changes.append(f"{key} changed ({_short(old)} -> {_short(new)})")
    old_inputs, new_inputs = recorded.get("inputs", {}), now.get("inputs", {})
    for label in sorted(set(old_inputs) | set(new_inputs)):
        if old_inputs.get(label) != new_inputs.get(label):
            made_here = str(new_inputs.get(label, "")).split("@")[0]
            changes.append(
                f"{made_here} was redone" if "@" in str(new_inputs.get(label, "")) else f"input {label} changed"
            )
    return changes


class RunState:
    """``state.json``: which steps of a run are complete, with their outputs and records."""

    def __init__(self, run_dir: Path) -> None:
        self.path = RunLayout(run_dir).state
        self.run_dir = run_dir
        self.steps: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.steps = json.loads(self.path.read_text(encoding="utf-8")).get("completed", {})
            except (json.JSONDecodeError, AttributeError):
                raise RLHFError(f"{self.path}: damaged run state; delete it to redo the run's steps") from None

    def outputs_exist(self, name: str) -> bool:
        entry = self.steps.get(name)
        return entry is not None and all((self.run_dir / p).exists() for p in entry.get("outputs", []))

    def done(self, name: str, record: StepRecord | None = None) -> bool:
        """Recorded with its outputs in place (and, given ``record``, made from the same settings and inputs)."""
        if not self.outputs_exist(name):
            return False
        return record is None or self.steps[name].get("digest") == record.digest()

    def changes(self, name: str, record: StepRecord) -> list[str]:
        """Why a completed step no longer matches ``record`` (empty when it matches or never ran)."""
        entry = self.steps.get(name)
        if entry is None or entry.get("digest") == record.digest():
            return []
        if "record" not in entry:
            return ["no record of its settings (the run was made by an older rl-editor)"]
        return record_changes(entry["record"], record.to_json())

    def identity(self, name: str) -> str:
        """``<step>@<id>`` of a completed step: what the steps that read its outputs record."""
        entry = self.steps.get(name, {})
        return f"{name}@{entry.get('id') or entry.get('finished', 'unknown')}"

    def complete(self, name: str, outputs: Sequence[Path], record: StepRecord | None = None) -> None:
        entry: dict[str, Any] = {
            "outputs": [str(Path(p).relative_to(self.run_dir)) for p in outputs],
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "id": uuid.uuid4().hex[:12],
        }
        if record is not None:
            entry.update(digest=record.digest(), record=record.to_json())
        self.steps[name] = entry
        self._write()

    def forget(self, name: str) -> None:
        self.steps.pop(name, None)
        self._write()

    def _write(self) -> None:
        write_json_atomic(self.path, {"completed": self.steps}, indent=1, default=float)


__all__ = ["RunState", "StepRecord", "record_changes"]
