import numpy as np

from worldsim.behaviour import default_policy
from worldsim.behaviour.base import pick_style
from worldsim.sources import make_source


def test_style_mix_follows_weights():
    rng = np.random.default_rng(0)
    draws = [pick_style(rng, {"a": 0.8, "b": 0.2, "c": 0.0}) for _ in range(2000)]
    assert draws.count("c") == 0
    assert 0.75 < draws.count("a") / 2000 < 0.85


def test_pusht_policy_touches_and_moves_block():
    source, policy = make_source("robotics"), default_policy("robotics")
    policy.styles = {"to_goal": 1.0}
    obs = source.reset(seed=4)
    policy.reset(np.random.default_rng(4), source)
    start, contacts = obs.state[4:6].copy(), 0
    for _ in range(80):
        obs = source.step(policy.act(source, obs))
        contacts += obs.info["n_contacts"] > 0
    assert contacts > 5
    assert np.linalg.norm(obs.state[4:6] - start) > 20


def test_racing_policy_follows_track():
    source, policy = make_source("games"), default_policy("games")
    policy.styles = {"clean": 1.0}
    obs = source.reset(seed=2)
    policy.reset(np.random.default_rng(2), source)
    for _ in range(120):
        obs = source.step(policy.act(source, obs))
    assert obs.state[6] > 0.05  # track progress
    assert obs.state[5] <= 1  # at most one wheel on the grass


def test_wandering_racing_leaves_the_track_and_drives_at_random():
    source, policy = make_source("games"), default_policy("games")
    policy.styles = {"wander": 1.0}
    obs = source.reset(seed=0)
    policy.reset(np.random.default_rng(0), source)
    modes, off_track = set(), 0
    for _ in range(200):
        action = policy.act(source, obs)
        modes.add(policy.phase)
        obs = source.step(action)
        off_track += obs.state[5] == 4  # all four wheels on the grass
    assert modes == {"random", "wobble", "return"}
    assert off_track > 20


def test_reckless_driving_crashes_sometimes(driving_source):
    policy = default_policy("driving")
    policy.styles = {"reckless": 1.0}
    crashes = 0
    for seed in range(3):
        obs = driving_source.reset(seed=seed)
        policy.reset(np.random.default_rng(seed), driving_source)
        while not (obs.terminated or obs.truncated):
            obs = driving_source.step(policy.act(driving_source, obs))
        crashes += obs.info["crashed"]
    assert crashes >= 1


def test_a_holding_driver_holds_each_action_for_a_stretch():
    policy = default_policy("driving")
    policy.styles, policy.hold_steps = {"holder": 1.0}, (4, 4)
    policy.reset(np.random.default_rng(0), source=None)  # the holder never reads the road
    actions = [policy.act(None, None) for _ in range(12)]
    assert all(len(set(actions[i : i + 4])) == 1 for i in (0, 4, 8))  # three stretches of 4 steps
    policy.styles, policy.hold_steps = {"speed_holder": 1.0}, (1, 1)
    policy.reset(np.random.default_rng(0), source=None)
    assert {policy.act(None, None) for _ in range(60)} == {1, 3, 4}  # IDLE, FASTER, SLOWER: no lane change


def test_stop_go_racing_coasts_brakes_to_a_stop_and_launches():
    source, policy = make_source("games"), default_policy("games")
    policy.styles = {"stop_go": 1.0}
    policy.phase_steps = (12, 13)
    obs = source.reset(seed=3)
    policy.reset(np.random.default_rng(3), source)
    phases, pedals, speeds = set(), [], []
    for _ in range(240):
        action = policy.act(source, obs)
        phases.add(policy.phase)
        pedals.append(action[1:].copy())
        obs = source.step(action)
        speeds.append(float(obs.state[2]))
    pedals = np.array(pedals)
    assert phases == {"cruise", "coast", "brake", "launch"}
    assert (pedals == 0).all(1).sum() > 12  # coasting (and standing) steps
    assert (pedals[:, 1] >= 0.8).sum() > 2 and (pedals[:, 0] == 1.0).sum() > 12
    assert min(speeds[20:]) < 2.0  # it came to a stop at least once after getting going


def test_collect_styles_weigh_the_recorded_episodes(tmp_path):
    from worldsim.cli import main
    from worldsim.data import Dataset

    out = tmp_path / "games"
    styles = '{"wander": 1}'
    args = ["collect", "--domain", "games", "--episodes", "2", "--max-steps", "3", "--out", str(out), "--quiet"]
    args += ["--styles", styles]
    assert main(args) == 0
    assert Dataset(out).summary()["behaviour_styles"] == {"wander": 2}
    # resumed with the default mix instead, it is another dataset: refused, nothing changed
    assert main([a for a in args if a not in ("--styles", styles)]) == 2
