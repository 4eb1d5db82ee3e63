import json

import imageio.v3 as iio
import numpy as np
import pytest

from worldsim.counterfactual import parse_actions, run_counterfactual
from worldsim.counterfactual.report import write_outputs
from worldsim.model.checkpoint import load_model


@pytest.fixture(scope="module")
def driving_run(tiny_run):
    return tiny_run("driving")


@pytest.fixture(scope="module")
def driving_model(driving_run):
    return load_model(driving_run)[0]


def test_factual_actions_reproduce_the_factual_episode(driving_model):
    first = run_counterfactual("cut_in", 3, ["IDLE"] * 4, model=driving_model)
    again = run_counterfactual("cut_in", 3, first.factual.actions, model=driving_model)
    assert len(again.real.frames) == len(first.factual.frames) > 1
    for real, factual in zip(again.real.frames, first.factual.frames):
        np.testing.assert_array_equal(real, factual)  # the branch is an exact copy of the simulator
    np.testing.assert_allclose(np.stack(again.real.states), np.stack(first.factual.states))
    assert again.metrics["steps_compared"] == len(again.imagined.frames) - 1


def test_outputs_and_metrics(driving_model, tmp_path):
    result = run_counterfactual("hard_brake", 2, "SLOWER,LANE_LEFT,2", model=driving_model)
    assert result.actions == [4, 0, 2]
    files = write_outputs(result, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in (
        "collision_real",
        "collision_imagined",
        "collision_agreement",
        "ego_position_error_m",
        "others_position_error_m",
        "frame_psnr",
        "time_to_collision_s",
    ):
        assert key in metrics
    assert len(metrics["ego_position_error_m"]["per_step"]) == metrics["steps_compared"]
    video = iio.imread(files["video"])
    # the factual history before the branch, then the branch's start and each compared step
    longest = max(len(t.frames) for t in (result.factual, result.real, result.imagined))
    assert len(video) == len(result.history.frames) - 1 + longest


def test_bad_requests_are_clear_errors(driving_model):
    with pytest.raises(ValueError, match="beyond the factual episode"):
        run_counterfactual("cut_in", 500, ["IDLE"], model=driving_model)
    with pytest.raises(ValueError, match="unknown driving action"):
        parse_actions("FASTER,JUMP")
    with pytest.raises(ValueError, match="driving scenarios"):
        run_counterfactual("block_near_goal", 1, ["IDLE"], model=driving_model)


def test_suite_summarises_agreement(driving_run, capsys):
    from worldsim.cli import main

    args = [
        "counterfactual-suite",
        "--checkpoint",
        str(driving_run),
        "--scenarios",
        "cut_in",
        "--at",
        "2,500",
        "--hold",
        "2",
        "--json",
        "--quiet",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["runs"] == 5 and len(report["skipped"]) == 5  # step 500 is past every episode
    agreement = np.mean([r["collision_agreement"] for r in report["runs"]])
    assert report["summary"]["collision_agreement"] == pytest.approx(agreement)


def test_state_overlap_rule():
    from worldsim.model.crash import state_overlap

    state = np.zeros(5 + 6 * 4, np.float32)
    state[5:11] = (1.0, 20.0, 0.0, 25.0, 0.0, 0.0)  # a car 20 m ahead: no crash
    assert not state_overlap(state)
    state[6] = 3.0  # 3 m ahead in the same lane: overlapping
    assert state_overlap(state)
    state[5] = 0.0  # an absent slot never crashes
    assert not state_overlap(state)


def test_crash_signals_are_scored_on_recorded_and_imagined_steps(driving_run, driving_model):
    from worldsim.counterfactual.crash_rule import SIGNALS, score
    from worldsim.data import Dataset

    data = driving_run.parent / "data"
    lengths = [len(ep.actions) for ep in Dataset(data).episodes()]
    report = score(str(data), stride=1, model=driving_model, horizon=2)
    assert list(report) == list(SIGNALS)
    assert report["rule on recorded states"]["steps"] == sum(lengths)
    assert report["head or rule, imagined"]["steps"] == sum(max(n - 1, 0) for n in lengths)  # horizon 2: one start fewer
    for r in report.values():
        assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 and 0 <= r["fire_rate"] <= 1
    either, rule = report["head or rule, imagined"], report["rule on state head, imagined"]
    assert either["fire_rate"] >= rule["fire_rate"]
    assert list(score(str(data), stride=1)) == ["rule on recorded states"]  # without a model


def test_latent_overlap_agrees_with_the_rule_on_decoded_states(driving_model):
    import torch

    from worldsim.model.crash import LatentOverlap, states_overlap

    generator = torch.Generator().manual_seed(0)
    latent = torch.randn(512, driving_model.config.latent_dim, generator=generator) * 3
    state = driving_model.physical_state(latent)
    state[::4, 5:8] = torch.tensor([1.0, 2.0, -1.0])  # a quarter of them with a car on the ego
    latent[:, : driving_model.config.state_code_dim] = driving_model.normalise_state(state)
    expected = states_overlap(driving_model.physical_state(latent))
    assert expected.float().mean() >= 0.25
    assert torch.equal(LatentOverlap(driving_model)(latent), expected)
