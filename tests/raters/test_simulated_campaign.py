"""A simulated campaign through the HTTP API: five rater bots, one careless, and what screening makes of it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rl_editor.feedback.screening import is_gold, screen_pairs
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.raters import load_rater
from rl_editor.raters.campaign import sampled_manifest, simulate_campaign

# The seeded gold pairs include two whose intact edit was poor already: every careful rater prefers the
# broken copy, so screening leaves both out as suspect and 19 count. On 19 the 15% line falls between 2
# and 3 failures: a rater with 40% mistakes stays at 2 or fewer with probability 0.55%, and a rater
# without mistakes fails none.
GOLD_PER_RATER = 21


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, demo_songs_dir, demo_analyses):
    """Three demo songs, 7 sampled edits each, judged by 4 careful bots and a careless one (40% mistakes)."""
    songs = list(zip(sorted(demo_songs_dir.glob("*.wav")), demo_analyses))[:3]
    manifest = sampled_manifest(songs, tmp_path_factory.mktemp("campaign"), 7, np.random.default_rng(0))
    raters = {f"careful-{k}": load_rater("musician", seed=k) for k in range(1, 5)}
    raters["careless"] = load_rater("musician", seed=9, mistake=0.4)
    config = TaskConfig(pairs_per_song=5, raters_per_pair=3, overlap_share=1.0, gold_per_rater=GOLD_PER_RATER)
    return manifest, simulate_campaign(manifest, raters, config)


def test_every_bot_judges_its_gold_pairs_and_shares_pairs_with_others(campaign):
    _, pairs = campaign
    gold = [p for p in pairs if is_gold(p)]
    assert {p.rater for p in gold} == {"careful-1", "careful-2", "careful-3", "careful-4", "careless"}
    assert all(sum(p.rater == r for p in gold) == GOLD_PER_RATER for r in {p.rater for p in gold})
    regular = [p for p in pairs if not is_gold(p)]
    assert len(regular) == 3 * 5 * 3  # 5 pairs per song, 3 raters each


def test_screening_flags_the_careless_rater_and_only_them(campaign):
    _, pairs = campaign
    report = screen_pairs(pairs)
    assert report.flagged == ["careless"], report.weight_lines()
    assert len(report.suspect_gold) == 2
    careless = report.raters["careless"]
    assert careless.gold_judged == GOLD_PER_RATER - 2 and careless.gold_failed / careless.gold_judged > 0.15
    assert all(report.raters[f"careful-{k}"].gold_failed == 0 for k in range(1, 5))
    assert careless.weight < min(report.raters[f"careful-{k}"].weight for k in range(1, 5))


def test_export_screens_by_default_and_says_how_many_judgments_it_weighted_or_dropped(
    campaign, rl_editor_main, tmp_path
):
    manifest, pairs = campaign
    careless_regular = sum(p.rater == "careless" and not is_gold(p) for p in pairs)
    regular = sum(not is_gold(p) for p in pairs)
    weighted, dropped, everything = tmp_path / "weighted.json", tmp_path / "dropped.json", tmp_path / "all.json"
    code, out, err = rl_editor_main("export", "--manifest", manifest.path, "--out", weighted)
    assert code == 0, err
    assert out.startswith("screening: 1 of 5 raters flagged (careless: failed ")
    assert f"their {careless_regular} of {regular} judgments kept at their reliability weight (careless " in out
    written = json.loads(weighted.read_text())
    assert len(written) == regular and all(0 < e["weight"] < 1 for e in written)
    careless_weight = {e["weight"] for e in written if e["rater"] == "careless"}
    assert len(careless_weight) == 1 and max(careless_weight) < min(
        e["weight"] for e in written if e["rater"] != "careless"
    )
    code, out, _ = rl_editor_main("export", "--manifest", manifest.path, "--out", dropped, "--drop-flagged")
    assert code == 0 and f"dropped {careless_regular} of {regular} judgments" in out
    assert {e["rater"] for e in json.loads(dropped.read_text())} == {"careful-1", "careful-2", "careful-3", "careful-4"}
    code, out, _ = rl_editor_main("export", "--manifest", manifest.path, "--out", everything, "--no-screen")
    assert code == 0 and "screening" not in out and f"wrote {regular} judgments" in out
    assert all("weight" not in e for e in json.loads(everything.read_text()))


def test_train_reward_screens_a_file_with_gold_pairs_and_keeps_the_weights_in_its_metadata(
    campaign, rl_editor_main, tmp_path
):
    from rl_editor.reward.model import load_reward_model

    manifest, pairs = campaign
    exported = tmp_path / "with-gold.json"
    assert (
        rl_editor_main("export", "--manifest", manifest.path, "--out", exported, "--no-screen", "--include-gold")[0]
        == 0
    )
    code, out, err = rl_editor_main(
        "train-reward",
        "--preferences",
        exported,
        "--out",
        tmp_path / "reward.pt",
        "--epochs",
        1,
        "--members",
        1,
        "--val-frac",
        0,
        "--drop-flagged",
    )
    assert code == 0, err
    careless_all = sum(p.rater == "careless" for p in pairs)
    assert "screening: 1 of 5 raters flagged (careless: failed " in out
    assert f"dropped {careless_all} of {len(pairs)} judgments" in out
    meta = load_reward_model(tmp_path / "reward.pt").meta
    screening = meta.trained_on["screening"]
    assert screening["flagged"] == ["careless"] and screening["n_dropped"] == careless_all
    assert set(screening["weights"]) == {"careful-1", "careful-2", "careful-3", "careful-4", "careless"}
    assert "careless" not in meta.trained_on["raters"]


def test_the_admin_summary_lists_the_flagged_rater_with_the_evidence(campaign):
    from fastapi.testclient import TestClient

    from rl_editor.feedback.app import create_app

    manifest, _ = campaign
    app = create_app(manifest.path)
    admin = app.state.store.create_admin_token()
    with TestClient(app) as client:
        summary = client.get("/api/admin/summary", params={"token": admin}).json()
    app.state.store.close()
    screening = summary["screening"]
    flagged = [r for r in screening["raters"] if r["flagged"]]
    assert [r["rater"] for r in flagged] == ["careless"] == screening["flagged"]
    assert flagged[0]["gold_failure_share"] > screening["rule"]["max_gold_failure_share"] == 0.15
    assert flagged[0]["reason"] == f"failed {flagged[0]['gold_failed']} of {flagged[0]['gold_judged']} gold pairs"
    assert len(screening["suspect_gold"]) == 2 and set(screening["weights"]) == {
        r["rater"] for r in screening["raters"]
    }
    assert list(summary["krippendorff_alpha_by_campaign"]) == ["collect"]
