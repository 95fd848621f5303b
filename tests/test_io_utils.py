"""Atomic writes and JSON reads with one-line errors."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from rl_editor.errors import RlEditorError
from rl_editor.io_utils import atomic_path, read_json, write_bytes_atomic, write_json_atomic, write_text_atomic


class ExampleError(RlEditorError):
    pass


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring the old one after it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def test_a_failing_writer_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("old")
    with pytest.raises(ValueError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half of the new")
            raise ValueError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


def test_a_failing_first_write_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "new.bin"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_file_is_hidden_beside_the_target_and_keeps_the_suffix(tmp_path):
    target = tmp_path / "sub" / "entry.npz"
    with atomic_path(target, suffix=".npz") as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".entry.npz.") and tmp.suffix == ".npz"
        assert not target.exists()
        np.savez(tmp, x=np.arange(3))  # numpy keeps a name that already ends in .npz
    assert sorted(p.name for p in target.parent.iterdir()) == ["entry.npz"]
    np.testing.assert_array_equal(np.load(target)["x"], np.arange(3))


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_ordinary_mode_of_new_files(tmp_path, umask, mask, mode):
    umask(mask)
    text_file = write_text_atomic(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"x")
    assert stat.S_IMODE(text_file.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == mode


def test_a_rewrite_replaces_the_content(tmp_path):
    target = tmp_path / "a.bin"
    write_bytes_atomic(target, b"first, longer content")
    assert write_bytes_atomic(target, b"second") == target
    assert target.read_bytes() == b"second"


def test_text_is_written_as_utf8_exactly_as_given(tmp_path):
    target = write_text_atomic(str(tmp_path / "rows.csv"), "a,b\r\nnaïve,1\n")
    assert isinstance(target, Path)
    assert target.read_bytes() == "a,b\r\nnaïve,1\n".encode()


def test_json_is_indented_ascii_without_a_final_newline(tmp_path):
    data = {"note": "très bien", "scores": [1, 2.5]}
    target = write_json_atomic(tmp_path / "out" / "a.json", data, indent=1)
    assert target.read_bytes() == json.dumps(data, indent=1).encode("ascii")
    assert target.read_bytes().endswith(b"}")


def test_json_default_lets_numpy_numbers_through(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "a.json", {"x": np.float32(0.5)})
    assert not list(tmp_path.iterdir())
    write_json_atomic(tmp_path / "a.json", {"x": np.float32(0.5)}, indent=None, default=float)
    assert (tmp_path / "a.json").read_text() == '{"x": 0.5}'


def test_read_json_returns_the_decoded_value(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[1, {"b": "é"}]', encoding="utf-8")
    assert read_json(path, ExampleError) == [1, {"b": "é"}]


def test_read_json_names_a_missing_file_by_what_it_is(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(ExampleError) as caught:
        read_json(path, ExampleError, "rater weights file")
    assert str(caught.value) == f"{path}: no such rater weights file"
    with pytest.raises(ExampleError, match=r"nope\.json: no such file$"):
        read_json(str(path), ExampleError)


def test_read_json_gives_the_line_of_malformed_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[\n  1,\n  2,,\n]\n", encoding="utf-8")
    with pytest.raises(ExampleError) as caught:
        read_json(path, ExampleError)
    assert str(caught.value) == f"{path}: not valid JSON (line 3: Expecting value)"


def test_read_json_refuses_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('["café"]'.encode("latin-1"))
    with pytest.raises(ExampleError) as caught:
        read_json(path, ExampleError)
    assert str(caught.value) == f"{path}: not a UTF-8 text file"
