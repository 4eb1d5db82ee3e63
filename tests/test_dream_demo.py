"""`worldsim dream`: the first command a newcomer runs shows each world beside its simulator."""

import json

import imageio.v3 as iio
import pytest

from worldsim.cli import main
from worldsim.rollout import RolloutRequest, rollout


def test_dream_films_real_and_dream_side_by_side_under_the_behaviour_policy(tmp_path, capsys):
    assert main(["dream", "--domains", "robotics", "--steps", "6", "--out", str(tmp_path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["domain"] == "robotics" and row["steps"] == 6 and "real_return" in row and "dream_return" in row
    frames = iio.imread(row["video"])
    assert len(frames) == 7  # the start and six steps
    assert frames.shape[2] == 2 * frames.shape[1] + 2 * 4  # real | dream, each upscaled 4x, a gap between


def test_dream_without_a_simulator_runs_the_registered_env(tmp_path, capsys):
    assert main(["dream", "--domains", "games", "--steps", "3", "--no-simulator", "--out", str(tmp_path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["steps"] == 3 and row["steps_per_s"] > 0
    assert iio.imread(row["video"]).shape[1] == iio.imread(row["video"]).shape[2]  # the dream alone


def test_the_behaviour_policy_needs_the_simulator(tmp_path):
    with pytest.raises(ValueError, match="side by side"):
        rollout(RolloutRequest(domain="robotics", policy="behaviour", steps=2), tmp_path / "x.mp4")
