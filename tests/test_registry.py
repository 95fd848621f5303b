import pytest

from rl_editor.registry import (
    ModelFileError,
    ModelMeta,
    lineage_lines,
    list_models,
    load_model_file,
    new_version,
    save_model_file,
)


def test_model_files_carry_their_lineage(tmp_path):
    v8 = ModelMeta(kind="reward", version=new_version("reward"), trained_on={"source": "synthetic", "count": 1000})
    save_model_file(tmp_path / "v8.pt", {"w": [1, 2]}, v8)
    v9 = ModelMeta(
        kind="reward",
        version=new_version("reward"),
        parent=v8.version,
        trained_on={"source": "feedback/preferences.json", "count": 300},
    )
    save_model_file(tmp_path / "sub" / "v9.pt", {"w": [3]}, v9)

    state, meta = load_model_file(tmp_path / "sub" / "v9.pt", kind="reward")
    assert state == {"w": [3]} and meta.parent == v8.version

    metas = list_models(tmp_path)
    assert [m.version for m in metas] == [v8.version, v9.version]
    lines = lineage_lines(metas)
    assert lines[0].startswith(v8.version) and "synthetic (1000 items)" in lines[0]
    assert lines[1].startswith("  " + v9.version)


def test_wrong_kind_and_damaged_files_are_refused(tmp_path):
    save_model_file(tmp_path / "p.pt", {}, ModelMeta(kind="policy", version="policy-1"))
    with pytest.raises(ModelFileError, match="is a policy model, expected a reward model"):
        load_model_file(tmp_path / "p.pt", kind="reward")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="junk.pt: not a readable model file"):
        load_model_file(tmp_path / "junk.pt")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model_file(tmp_path / "missing.pt")


def test_files_without_rl_editor_metadata_get_one_line_errors(tmp_path):
    import torch

    torch.save({"layer.weight": torch.zeros(2)}, tmp_path / "foreign.pt")
    torch.save({"rl_editor_model": 1, "state": {}}, tmp_path / "no-meta.pt")
    torch.save({"rl_editor_model": 1, "meta": {"kind": "reward"}, "state": {}}, tmp_path / "half-meta.pt")
    with pytest.raises(ModelFileError, match=r"foreign.pt: not an rl-editor model file \(no rl-editor metadata\)$"):
        load_model_file(tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match=r"no-meta.pt: not an rl-editor model file \(no rl-editor metadata\)$"):
        load_model_file(tmp_path / "no-meta.pt")
    with pytest.raises(ModelFileError, match=r"half-meta.pt: model metadata is damaged"):
        load_model_file(tmp_path / "half-meta.pt")


def test_scan_models_returns_readable_models_and_names_the_rest(tmp_path):
    from rl_editor.registry import scan_models

    meta = ModelMeta(kind="reward", version=new_version("reward"))
    save_model_file(tmp_path / "good.pt", {"w": [1]}, meta)
    (tmp_path / "bad.pt").write_bytes(b"\x80\x02garbage")
    metas, problems = scan_models(tmp_path)
    assert [m.version for m in metas] == [meta.version]
    assert [(p.name, reason.split(" (")[0]) for p, reason in problems] == [("bad.pt", "not a readable model file")]


def test_model_metadata_with_an_unknown_key_is_refused_naming_it(tmp_path):
    import torch

    meta = {"kind": "reward", "version": "reward-1", "colour": "red"}
    torch.save({"rl_editor_model": 1, "meta": meta, "state": {}}, tmp_path / "odd.pt")
    with pytest.raises(
        ModelFileError, match=r"odd.pt: model metadata is damaged \(meta: unknown field\(s\) \['colour'\]"
    ):
        load_model_file(tmp_path / "odd.pt")
