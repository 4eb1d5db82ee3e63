"""A driving state made into highway-env's own start: the vehicles land where the state has them,
and the simulator's verdict on what follows is its own."""

import gymnasium as gym
import highway_env  # noqa: F401
import numpy as np
from driving_states import FIELDS, driving_state

from worldsim.sources.driving_start import place, simulated_endings


def _state(**cars):
    ego = dict(ego_x=300.0, ego_y=4.0, ego_vx=25.0)
    return driving_state(**ego, **cars)


def test_the_placed_road_holds_the_ego_and_the_present_cars_where_the_state_has_them():
    env = gym.make("highway-fast-v0")
    env.reset(seed=0)
    state = _state(
        car0_present=1, car0_dx=20.0, car0_dy=0.0, car0_vx=18.0, car1_present=1, car1_dx=-10.0, car1_dy=4.0, car1_vx=22.0
    )
    place(env.unwrapped, state, FIELDS)
    road, ego = env.unwrapped.road, env.unwrapped.vehicle
    assert len(road.vehicles) == 3 and road.vehicles[0] is ego  # the random traffic is gone
    assert np.allclose(ego.position, [300.0, 4.0]) and ego.speed == 25.0 and ego.lane_index[2] == 1
    ahead, behind = road.vehicles[1:]
    assert np.allclose(ahead.position - ego.position, [20.0, 0.0]) and ahead.speed == 18.0 and ahead.lane_index[2] == 1
    assert np.allclose(behind.position - ego.position, [-10.0, 4.0]) and behind.lane_index[2] == 2
    absent = _state(car0_present=0, car0_dx=5.0)  # an absent slot puts no vehicle on the road
    place(env.unwrapped, absent, FIELDS)
    assert env.unwrapped.road.vehicles == [env.unwrapped.vehicle]
    env.close()


def test_the_simulator_ends_a_start_behind_a_standing_car_and_not_an_empty_road():
    states = np.stack(
        [
            _state(car0_present=1, car0_dx=12.0, car0_vx=0.0),  # a car standing 12 m ahead in the ego's lane
            _state(),  # nobody on the road
            _state(car0_present=1, car0_dx=12.0, car0_dy=4.0, car0_vx=0.0),  # standing, a lane over
        ]
    )
    ended = simulated_endings(states, FIELDS, steps=4)
    assert ended.shape == (3, 4)
    assert ended[0, :2].any() and ended[0, -1]  # the ego holds IDLE into it
    assert not ended[1].any() and not ended[2].any()
    assert (np.diff(ended.astype(int), axis=1) >= 0).all()  # once ended, ended


def test_the_simulators_verdict_is_set_beside_the_dreams():
    import torch

    from worldsim import domains
    from worldsim.prompt_eval import PromptEvalConfig, simulator_verdict

    states = np.stack([_state(car0_present=1, car0_dx=12.0, car0_vx=0.0), _state()])
    # the dream ends the empty road at once and never the doomed start: it agrees on neither
    dream = torch.tensor([[False] * 8, [True] + [False] * 7])
    verdict = simulator_verdict(domains.get("driving"), states, FIELDS, dream, PromptEvalConfig(steps=8))
    assert verdict["ended_within"]["5"] == 0.5 and verdict["ended_within"]["1"] <= 0.5
    assert verdict["dream_agrees_within"]["5"] == 0.0
    agree = simulator_verdict(
        domains.get("driving"), states, FIELDS, torch.tensor([[True] * 8, [False] * 8]), PromptEvalConfig(steps=8)
    )
    assert agree["dream_agrees_within"]["5"] == 1.0


def test_eval_prompts_sets_the_simulators_verdict_on_driving_starts_beside_real_scenes(tmp_path):
    from tiny_models import prompted_run

    from worldsim.data import Dataset
    from worldsim.language.prompt_sets import load_prompt_set
    from worldsim.model.checkpoint import load_model
    from worldsim.model.critics import ProbeRecipe, RealismRecipe
    from worldsim.model.text import load_shared_space
    from worldsim.prompt_eval import PromptEvalConfig, evaluate_prompts

    run = prompted_run(tmp_path, "driving")
    model, space = load_model(run)[0], load_shared_space(run)[0]
    path = tmp_path / "set.yaml"
    path.write_text(
        "domain: driving\nsplit: dev\nprompts:\n"
        "  - {kind: simple, text: 'ego in the middle lane', attributes: {ego_lane: middle}}\n"
    )
    config = PromptEvalConfig(seeds=3, steps=6, probe_frames=30, probe=ProbeRecipe(steps=2), realism=RealismRecipe(steps=2))
    report = evaluate_prompts(model, space, load_prompt_set(path), Dataset(tmp_path / "data"), config)
    consistency = report["consistency"]
    for verdict in (consistency["simulator"], consistency["real_starts"]["simulator"]):
        assert set(verdict["ended_within"]) == {"1", "5"} and set(verdict["dream_agrees_within"]) == {"1", "5"}
        assert all(0.0 <= v <= 1.0 for v in [*verdict["ended_within"].values(), *verdict["dream_agrees_within"].values()])
    words = consistency["real_scenes_holding_the_words"]
    assert words["scenes"] <= 3 and (set(words["simulator_ended_within"]) == {"1", "5"} or words["scenes"] == 0)
