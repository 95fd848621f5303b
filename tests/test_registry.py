import pytest

from rl_editor.registry import ModelFileError, ModelMeta, lineage_lines, list_models, load_model_file, new_version, save_model_file


def test_model_files_carry_their_lineage(tmp_path):
    v8 = ModelMeta(kind="reward", version=new_version("reward"), trained_on={"source": "synthetic", "count": 1000})
    save_model_file(tmp_path / "v8.pt", {"w": [1, 2]}, v8)
    v9 = ModelMeta(kind="reward", version=new_version("reward"), parent=v8.version,
                   trained_on={"source": "feedback/preferences.json", "count": 300})
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
