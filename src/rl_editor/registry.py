"""Versions and lineage of every model: each model file describes itself.

A model file (policy or reward) is one ``torch.save`` of
``{"meta": ModelMeta-as-dict, "state": {...}}``. The meta says what the model
is, which version it came from and what data it saw, so any edit or score can
be traced back. ``list_models(folder)`` scans a folder tree and returns the
metas, which ``rl-editor models`` prints as a lineage tree.

Model files are read with ``torch.load(..., weights_only=True)``: a file may
hold tensors and plain data (numbers, strings, bytes, lists, dicts) only, so a
crafted file cannot run code when it is listed or loaded. Policies keep their
network weights as tensors for the same reason (see
:mod:`rl_editor.policy.checkpoint`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import pickle
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.config import ConfigError, config_from_json, config_to_json
from rl_editor.errors import RlEditorError
from rl_editor.io_utils import atomic_path, file_sha256

MODEL_SUFFIX = ".pt"


class ModelFileError(RlEditorError):
    """A file that is not an rl-editor model file, or is damaged."""


@dataclass
class ModelMeta:
    """What a model is and what it was trained on (stored as :func:`~rl_editor.config.config_to_json` writes it).

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
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds"))
    path: str | None = None


def new_version(kind: str) -> str:
    """A fresh, sortable, unique version name for a model of ``kind``."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{kind}-{stamp}-{secrets.token_hex(2)}"


def sha256_of_json(obj: Any) -> str:
    """Stable hash of JSON-able data (sorted keys)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def sha256_of_files(paths: Iterable[str | Path]) -> str:
    """Hash of several files' bytes, independent of the order given."""
    digests = sorted(file_sha256(p) for p in paths)
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def save_model_file(path: str | Path, state: dict[str, Any], meta: ModelMeta) -> Path:
    """Write ``state`` with its ``meta`` to one file, atomically."""
    import torch

    path = Path(path)
    meta.path = str(path)
    with atomic_path(path) as tmp:
        torch.save({"rl_editor_model": 1, "meta": config_to_json(meta), "state": state}, tmp)
    return path


def load_model_file(path: str | Path, kind: str | None = None) -> tuple[dict[str, Any], ModelMeta]:
    """Read a model file; check its kind when ``kind`` is given.

    Only tensors and plain data are unpickled (``weights_only=True``); a file
    that asks for any other Python object is refused before anything is built.

    Raises
    ------
    ModelFileError
        Missing, damaged, unsafe or not an rl-editor model file, or of another kind.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    blob = _load_plain_data(path)
    if not isinstance(blob, dict) or blob.get("rl_editor_model") != 1:
        raise ModelFileError(f"{path}: not an rl-editor model file (no rl-editor metadata)")
    meta = _meta_of(path, blob.get("meta"))
    state = blob.get("state")
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: model file has no state; re-train the model")
    if kind is not None and meta.kind != kind:
        raise ModelFileError(f"{path}: is a {meta.kind} model, expected a {kind} model")
    return state, meta


def _load_plain_data(path: Path) -> Any:
    """``torch.load`` restricted to tensors and plain data; unsafe or damaged files raise ModelFileError."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        wanted = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if wanted:
            raise ModelFileError(
                f"{path}: refused: the file asks to build {wanted.group(1)}, which model files never hold "
                "(loading it could run code); use model files written by rl-editor"
            ) from None
        raise ModelFileError(f"{path}: not a readable model file (damaged or not written by rl-editor)") from None
    except Exception as exc:  # torch raises many types for damaged files
        raise ModelFileError(f"{path}: not a readable model file ({type(exc).__name__})") from None


def _meta_of(path: Path, raw: Any) -> ModelMeta:
    """The ModelMeta stored in a model file, or ModelFileError naming what is wrong with it."""
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path}: not an rl-editor model file (no rl-editor metadata)")
    try:
        meta = config_from_json(ModelMeta, raw, what="meta")
    except ConfigError as exc:
        raise ModelFileError(f"{path}: model metadata is damaged ({exc})") from None
    if meta.kind not in ("policy", "reward"):
        raise ModelFileError(f"{path}: model metadata names an unknown kind {meta.kind!r}")
    meta.path = str(path)
    return meta


def scan_models(folder: str | Path) -> tuple[list[ModelMeta], list[tuple[Path, str]]]:
    """Metas of every model file under ``folder`` (oldest first), and the files that could not be read.

    Returns
    -------
    metas : list of ModelMeta
    problems : list of (Path, str)
        Each unreadable, unsafe or foreign ``.pt`` file with a one-line reason.
    """
    metas: list[ModelMeta] = []
    problems: list[tuple[Path, str]] = []
    for path in sorted(Path(folder).rglob(f"*{MODEL_SUFFIX}")):
        try:
            metas.append(load_model_file(path)[1])
        except ModelFileError as exc:
            reason = str(exc)
            problems.append((path, reason[len(f"{path}: ") :] if reason.startswith(f"{path}: ") else reason))
    return sorted(metas, key=lambda m: m.created), problems


def list_models(folder: str | Path) -> list[ModelMeta]:
    """Metas of every readable model file under ``folder``, oldest first (see :func:`scan_models`)."""
    return scan_models(folder)[0]


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
