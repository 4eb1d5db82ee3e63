"""scripts/constant_actions.py: episodes under one held action, dream against simulator."""

import json
import sys

import gymnasium as gym
import numpy as np
import pytest
from script_modules import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("scripts/constant_actions.py")


def test_an_episode_holds_its_action_until_it_ends_or_is_cut(script):
    seen, steps = [], {"n": 0}

    def reset(seed):
        seen.append(seed)
        steps["n"] = 0

    def step(action):
        steps["n"] += 1
        crashed = seen[-1] % 2 == 1 and steps["n"] == 3  # odd seeds crash at their third step
        return action, crashed, False, seen[-1]

    row = script.hold(step, reset, 2, episodes=4, seed=10, limit=5)
    assert seen == [10, 11, 12, 13]
    assert row == {"terminated": 0.5, "steps": 4.0, "return": 8.0}  # 5, 3, 5, 3 steps of reward 2
    assert script.hold(step, reset, 2, 4, 10, 5, why=lambda seed: f"seed {seed}")["ended_by"] == {"seed 11": 1, "seed 13": 1}


def test_a_driving_episode_ends_by_the_car_on_the_ego(script):
    from driving_states import driving_state

    assert script.car_on_the_ego(driving_state(car0_present=1, car0_dx=-3.0, car1_present=1, car1_dx=4.0)) == "a car behind"
    assert script.car_on_the_ego(driving_state(car0_present=1, car0_dx=2.0, car0_dy=1.0)) == "a car ahead"
    assert script.car_on_the_ego(driving_state(car0_present=1, car0_dx=2.0, car0_dy=4.0)) == "no car on the ego"


def test_the_actions_are_each_discrete_one_or_those_given(script):
    assert script.actions_of("driving", gym.spaces.Discrete(5), None)[3] == ("FASTER", 3)
    assert script.actions_of("driving", gym.spaces.Discrete(5), "[1, 4]") == [("1", 1), ("4", 4)]
    box = gym.spaces.Box(-1, 1, (3,), np.float32)
    (name, action), _ = script.actions_of("games", box, "[[0, 0.5, 0], [0, 0, 0.8]]")
    assert name == "[0.0, 0.5, 0.0]" and action.dtype == np.float32
    with pytest.raises(ValueError, match="continuous"):
        script.actions_of("games", box, None)
    with pytest.raises(ValueError, match="not in the action space"):
        script.actions_of("games", box, "[[0, 2, 0]]")
    with pytest.raises(ValueError, match="not JSON"):
        script.actions_of("driving", gym.spaces.Discrete(5), "[1,")


def test_a_tiny_driving_model_is_held_against_the_simulator(script, tiny_run, monkeypatch, capsys):
    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)  # highway-env draws black frames under the dummy driver
    run = tiny_run("driving")
    argv = ["constant_actions.py", "--checkpoint", str(run), "--episodes", "1", "--physics-blend", "0.5", "--json"]
    monkeypatch.setattr(sys, "argv", argv)
    assert script.main() == 0
    report = json.loads(capsys.readouterr().out)
    assert report["physics_blend"] == 0.5 and "physics blend 0.5" in script.table(report)
    assert list(report["actions"]) == ["LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER"]
    for row in report["actions"].values():
        for side in ("simulator", "dream"):
            assert 0.0 <= row[side]["terminated"] <= 1.0 and 1 <= row[side]["steps"] <= report["episode_steps"]
            assert sum(row[side]["ended_by"].values()) == round(row[side]["terminated"])  # one episode each
    assert "terminated sim / dream" in script.table(report)
    monkeypatch.setattr(sys, "argv", ["constant_actions.py", "--checkpoint", str(tiny_run("robotics")), "--episodes", "1"])
    with pytest.raises(SystemExit):
        script.main()
    assert "give the actions to hold with --actions" in capsys.readouterr().err
