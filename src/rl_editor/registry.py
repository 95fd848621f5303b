"""Versions and lineage of every model: each model file describes itself.

A model file (policy or reward) is one ``torch.save`` of
``{"meta": ModelMeta-as-dict, "state": {...}}``. The meta says what the model
is, which version it came from and what data it saw, so any edit or score can
be traced back. ``list_models(folder)`` scans a folder tree and returns the
metas, which ``rl-editor models`` prints as a lineage tree.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rl_editor.errors import RlEditorError
from rl_editor.io_utils import atomic_path

MODEL_SUFFIX = ".pt"


class ModelFileError(RlEditorError):
    """A file that is not an rl-editor model file, or is damaged."""


@dataclass
class ModelMeta:
    """What a model is and what it was trained on.

    Attributes
    ----------
    kind : str
        ``"policy"`` or ``"reward"``.
    version : str
        Unique name, e.g. ``"reward-20261125-1530-3fa2"``.
    parent : str or None
        Version this one was initialised from (fine-tuning), if any.
    trained_on : dict
        ``{"source": ..., "sha256": ..., "count": ...}`` and anything else that
        identifies the data (songs hash, preference file hash, reward source).
    metrics : dict
        Figures measured after training (held-out accuracy, mean reward...).
    config : dict
        The training configuration.
    """

    kind: str
    version: str
    parent: str | None = None
    trained_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds"))
    path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def new_version(kind: str) -> str:
    """A fresh, sortable, unique version name for a model of ``kind``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{kind}-{stamp}-{secrets.token_hex(2)}"


def sha256_of_json(obj: Any) -> str:
    """Stable hash of JSON-able data (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def sha256_of_files(paths: Iterable[str | Path]) -> str:
    """Hash of several files' bytes, independent of the order given."""
    digests = sorted(hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths)
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def save_model_file(path: str | Path, state: dict[str, Any], meta: ModelMeta) -> Path:
    """Write ``state`` with its ``meta`` to one file, atomically."""
    import torch

    path = Path(path)
    meta.path = str(path)
    with atomic_path(path) as tmp:
        torch.save({"rl_editor_model": 1, "meta": meta.to_json(), "state": state}, tmp)
    return path


def load_model_file(path: str | Path, kind: str | None = None) -> tuple[dict[str, Any], ModelMeta]:
    """Read a model file; check its kind when ``kind`` is given."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for damaged files
        raise ModelFileError(f"{path}: not a readable model file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("rl_editor_model") != 1:
        raise ModelFileError(f"{path}: not an rl-editor model file")
    meta = ModelMeta(**blob["meta"])
    meta.path = str(path)
    if kind is not None and meta.kind != kind:
        raise ModelFileError(f"{path}: is a {meta.kind} model, expected a {kind} model")
    return blob["state"], meta


def list_models(folder: str | Path) -> list[ModelMeta]:
    """Metas of every model file under ``folder``, oldest first."""
    metas = []
    for path in sorted(Path(folder).rglob(f"*{MODEL_SUFFIX}")):
        try:
            metas.append(load_model_file(path)[1])
        except ModelFileError:
            continue
    return sorted(metas, key=lambda m: m.created)


def lineage_lines(metas: list[ModelMeta]) -> list[str]:
    """Indented lines showing each model under its parent, with what it was trained on."""
    by_parent: dict[str | None, list[ModelMeta]] = {}
    versions = {m.version for m in metas}
    for m in metas:
        parent = m.parent if m.parent in versions else None
        by_parent.setdefault(parent, []).append(m)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for m in by_parent.get(parent, []):
            data = m.trained_on.get("source", "?")
            count = m.trained_on.get("count")
            orphan = f" (parent {m.parent} not found)" if depth == 0 and m.parent else ""
            lines.append(
                f"{'  ' * depth}{m.version} [{m.kind}] trained on {data}"
                f"{f' ({count} items)' if count is not None else ''}{orphan}  {m.path}"
            )
            walk(m.version, depth + 1)

    walk(None, 0)
    return lines
