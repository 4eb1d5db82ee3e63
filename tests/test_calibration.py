"""Rare terminations: balanced windows for training, and a threshold set on held-out episodes."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from worldsim.cli import main
from worldsim.data import Dataset, WindowSampler
from worldsim.model import calibration
from worldsim.model.calibration import TerminationScores, threshold_for_recall
from worldsim.model.checkpoint import load_model


def episodes(n: int, length: int, terminal_every: int):
    out = []
    for i in range(n):
        terminated = np.zeros(length, bool)
        terminated[-1] = i % terminal_every == 0
        out.append(
            SimpleNamespace(
                frames=np.zeros((length + 1, 4, 4, 3), np.uint8),
                states=np.zeros((length + 1, 1), np.float32),
                actions=np.zeros(length, np.int64),
                rewards=np.zeros(length, np.float32),
                terminated=terminated,
            )
        )
    return out


def test_balanced_windows_hold_a_termination_near_their_end():
    sampler = WindowSampler.from_episodes(episodes(20, 30, terminal_every=5), length=8)
    rng = np.random.default_rng(0)
    plain = sampler.sample(64, rng)
    assert plain.terminated.any(1).mean() < 0.2  # 4 of 20 episodes end terminated, one window each
    balanced = sampler.sample(64, np.random.default_rng(0), event_share=0.5, event_span=3)
    held = balanced.terminated.any(1)
    assert held.sum() >= 32
    position = balanced.terminated[held].argmax(1)
    assert (position >= 8 - 3).all()  # on one of the last 3 steps
    for mask, at in zip(balanced.mask[held], position, strict=True):
        assert mask[: at + 1].all() and not mask[at + 1 :].any()  # after it: padding past the episode's end
    with pytest.raises(ValueError, match="event_share must lie in"):
        sampler.sample(4, rng, event_share=1.5)
    same = WindowSampler.from_episodes(episodes(20, 30, terminal_every=5), length=8)
    again = same.sample(64, np.random.default_rng(0), event_share=0.0)
    np.testing.assert_array_equal(again.starts, plain.starts)  # share 0 draws as before


def test_threshold_for_recall_finds_the_wanted_share():
    logits = np.array([3.0, 2.0, 1.0, 0.5, -1.0, -2.0, -3.0])
    truth = np.array([True, False, True, False, True, False, False])
    result = threshold_for_recall(logits, truth, 2 / 3)
    assert result["recall"] == pytest.approx(2 / 3) and result["precision"] == pytest.approx(2 / 3)
    assert 0.5 <= result["threshold"] < 1.0
    every = threshold_for_recall(logits, truth, 1.0)
    assert every["recall"] == 1.0 and every["precision"] == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="no termination"):
        threshold_for_recall(logits, np.zeros(7, bool), 0.8)


def test_calibrate_writes_the_threshold_the_model_then_uses(tiny_run, monkeypatch, capsys, tmp_path):
    import shutil

    run = tiny_run("robotics")
    copy = tmp_path / "calibrated"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("checkpoint", "tb", "videos"))
    scores = TerminationScores(
        logits=np.array([-4.0, -3.0, -5.0, -1.0]), fired=np.zeros(4, bool), truth=np.array([False, True, False, True])
    )
    monkeypatch.setattr(calibration, "termination_scores", lambda *a, **k: scores)
    data = str(run.parent / "data")
    assert main(["calibrate", "--checkpoint", str(copy), "--data", data, "--split", "all", "--recall", "1", "--json"]) == 0
    model, meta = load_model(copy)
    assert -4.0 < model.config.termination_threshold < -3.0
    assert meta["metrics"]["termination_calibration"]["recall"] == 1.0
    latent = torch.zeros(3, model.config.latent_dim)
    with torch.no_grad():
        logit = model.termination_logit(latent)
    model.config.termination_threshold = float(logit.max()) + 1
    assert not model.crash_signal(latent).any()
    model.config.termination_threshold = float(logit.min()) - 1
    assert model.crash_signal(latent).all()
    assert main(["calibrate", "--checkpoint", str(copy), "--data", data, "--recall", "0"]) == 2
    assert "recall must lie in (0, 1]" in capsys.readouterr().err


def test_calibrating_on_episodes_without_terminations_is_a_clear_error(tiny_run, capsys):
    run = tiny_run("robotics")
    data = Dataset(run.parent / "data")
    if any(data.episode(i).terminated.any() for i in data.indices("all")):
        pytest.skip("the tiny dataset happens to hold a success")
    assert main(["calibrate", "--checkpoint", str(run), "--data", str(data.root), "--split", "all"]) == 2
    assert "no termination among the scored steps" in capsys.readouterr().err
