"""WorldSim under RL code written elsewhere: Gymnasium's keyboard player, CleanRL-shaped loops,
SB3's subprocess vector env, and Gymnasium's own vectorisers as the reference for the native one.

Everything runs the shipped weights through the registered ids. `snap_colours=False` skips reading
the colour palette off the start bank (seconds per env): flat observations draw no frames, and the
keyboard tests do not look at them.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import worldsim  # noqa: F401  (registers the ids)
from worldsim.envs import WorldSimEnv
from worldsim.envs.keys import keys_to_action, noop_action
from worldsim.envs.vector_env import WorldSimVectorEnv

FAST = {"snap_colours": False}


def script_events(monkeypatch, frames):
    """Make `pygame.event.get` return `frames` one list per call, then QUIT."""
    import pygame

    queue = iter(frames)
    monkeypatch.setattr(pygame.event, "get", lambda *args, **kwargs: next(queue, [pygame.event.Event(pygame.QUIT)]))


@pytest.mark.parametrize("env_id", ["WorldSim-v0", "WorldSim-games-v0"])
def test_gymnasium_play_steps_with_keys_and_noop(env_id, monkeypatch):
    import pygame
    from gymnasium.utils.play import play

    # The dream draws its own frames; highway-env is not run here, so the dummy driver is safe.
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    env = gym.make(env_id, render_mode="rgb_array", **FAST)
    domain = env.unwrapped.domain
    assert () not in keys_to_action(domain)
    # Frame 0 resets; UP is held for steps 1-3 and released for steps 4-5; QUIT after step 5.
    script_events(
        monkeypatch,
        [[pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP)], [], [], [pygame.event.Event(pygame.KEYUP, key=pygame.K_UP)], []],
    )
    actions = []
    play(env, noop=noop_action(domain), zoom=8, fps=120, seed=0, callback=lambda *step: actions.append(step[2]))
    up, noop = keys_to_action(domain)[(pygame.K_UP,)], noop_action(domain)
    assert len(actions) == 5
    for got, want in zip(actions, [up, up, up, noop, noop]):
        np.testing.assert_array_equal(got, want)
    assert env.action_space.contains(noop)


def test_gymnasium_play_refuses_robotics_clearly():
    from gymnasium.utils.play import play

    env = gym.make("WorldSim-robotics-v0", render_mode="rgb_array", **FAST)
    with pytest.raises(ValueError, match="target position.*mouse"):
        play(env)
    with pytest.raises(ValueError, match="target position"):
        noop_action("robotics")


def test_worldsim_player_controls_without_an_empty_binding():
    import pygame

    from worldsim.play.controls import Controls

    driving, games = Controls("driving", pygame), Controls("games", pygame)
    assert driving.action(set()) == 1 and driving.action({pygame.K_RIGHT}) == 3
    np.testing.assert_array_equal(games.action(set()), [0, 0, 0])
    np.testing.assert_array_equal(games.action({pygame.K_LEFT, pygame.K_UP}), [-1, 1, 0])
    np.testing.assert_array_equal(games.action({pygame.K_UP, pygame.K_DOWN}), [0, 1, 0])  # the first binding listed


def test_flat_ids_for_every_domain():
    from worldsim import domains

    for name in domains.names():
        for suffix, obs_type in (("", "pixels"), ("-latent", "latent"), ("-state", "state")):
            spec = gym.spec(f"WorldSim-{name}{suffix}-v0")
            assert spec.kwargs.get("obs_type", "pixels") == obs_type and spec.kwargs["domain"] == name
    env = gym.make("WorldSim-games-state-v0", **FAST)
    assert env.observation_space.shape == (env.unwrapped.model.config.state_dim,)


@pytest.mark.parametrize("vectorization_mode", ["sync", "vector_entry_point"])
def test_cleanrl_shaped_loop_reads_episode_statistics(vectorization_mode):
    """CleanRL's ppo.py loop in Gymnasium 1.x: an MLP over the flat observation, and episode
    statistics read from `infos["episode"]` where `infos["_episode"]` is set (next-step autoreset
    gives no `final_info`)."""
    import torch

    envs = gym.make_vec("WorldSim-driving-latent-v0", num_envs=4, vectorization_mode=vectorization_mode, episode_steps=5, **FAST)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    torch.manual_seed(0)
    n_obs = int(np.prod(envs.single_observation_space.shape))
    agent = torch.nn.Sequential(torch.nn.Linear(n_obs, 64), torch.nn.Tanh(), torch.nn.Linear(64, envs.single_action_space.n))
    next_obs, _ = envs.reset(seed=1)
    running, ended_before = np.zeros(4), np.zeros(4, bool)
    episodes, expected = [], []
    for _ in range(24):
        with torch.no_grad():
            action = torch.distributions.Categorical(logits=agent(torch.Tensor(next_obs))).sample().numpy()
        next_obs, reward, terminations, truncations, infos = envs.step(action)
        assert "final_info" not in infos and "final_obs" not in infos
        running[ended_before] = 0.0  # the autoreset step: reward 0, the new episode's first observation
        running += reward
        if "episode" in infos:
            for i in np.flatnonzero(infos["_episode"]):
                episodes.append((float(infos["episode"]["r"][i]), int(infos["episode"]["l"][i]), bool(truncations[i])))
        ended_before = terminations | truncations
        expected += [float(running[i]) for i in np.flatnonzero(ended_before)]
    assert len(episodes) >= 12  # 6 steps per 5-step episode: 4 ends per env
    np.testing.assert_allclose([r for r, _, _ in episodes], expected, atol=1e-4)
    assert all(length == 5 if truncated else length <= 5 for _, length, truncated in episodes)
    envs.close()


@pytest.mark.slow
def test_sb3_subproc_vec_env_under_spawn_with_the_module_prefix():
    """A spawned worker is a fresh interpreter: `worldsim:` makes its `gym.make` import worldsim."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    venv = make_vec_env(
        "worldsim:WorldSim-driving-latent-v0",
        n_envs=2,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
        env_kwargs={"render_mode": None},
    )
    try:
        obs = venv.reset()
        assert obs.shape == (2, *venv.observation_space.shape)
        for _ in range(3):
            obs, rewards, dones, infos = venv.step(np.array([1, 3]))
        assert obs.shape == (2, *venv.observation_space.shape) and np.isfinite(rewards).all() and len(infos) == 2
    finally:
        venv.close()


@pytest.fixture(scope="module")
def single_envs():
    """Three single envs per (domain, obs_type), made once and shared by the three modes (every
    comparison starts with a seeded reset)."""
    made = {}

    def get(domain, obs_type):
        if (domain, obs_type) not in made:
            made[domain, obs_type] = [WorldSimEnv(domain=domain, obs_type=obs_type, episode_steps=4, **FAST) for _ in range(3)]
        return made[domain, obs_type]

    return get


def assert_close_obs(got, want):
    # Batched and single matrix products differ in the last float bits; decoded states scale those
    # differences by their units (PushT's positions run to 512), so the tolerance follows the scale.
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("mode", list(AutoresetMode), ids=lambda mode: mode.name)
@pytest.mark.parametrize("obs_type", ["latent", "state"])
@pytest.mark.parametrize("domain", ["driving", "robotics"])
def test_native_vector_env_equals_sync_vector_env(domain, obs_type, mode, single_envs):
    n = 3
    native = gym.make_vec(
        f"WorldSim-{domain}-{obs_type}-v0",
        num_envs=n,
        autoreset_mode=mode,
        episode_steps=4,
        **FAST,
    )
    sync = gym.vector.SyncVectorEnv([lambda env=env: env for env in single_envs(domain, obs_type)], autoreset_mode=mode)
    assert isinstance(native, WorldSimVectorEnv)  # the vector entry point is the default
    assert native.metadata["autoreset_mode"] == mode == sync.metadata["autoreset_mode"]
    obs, _ = native.reset(seed=7)
    assert_close_obs(obs, sync.reset(seed=7)[0])
    native.action_space.seed(0)
    ends = np.zeros(n, int)
    for t in range(14):
        if t == 1:  # put env 0 out of step with the others; a masked reset is valid in every mode
            mask = np.array([True, False, False])
            assert_close_obs(native.reset(options={"reset_mask": mask})[0], sync.reset(options={"reset_mask": mask.copy()})[0])
        actions = native.action_space.sample()
        got, want = native.step(actions), sync.step(actions)
        assert_close_obs(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-5)
        np.testing.assert_array_equal(got[2], want[2])
        np.testing.assert_array_equal(got[3], want[3])
        done, infos, expected = got[2] | got[3], got[4], want[4]
        ends += done
        if mode == AutoresetMode.SAME_STEP and done.any():
            for key in ("_final_obs", "_final_info"):
                np.testing.assert_array_equal(infos[key], expected[key])
            for i in np.flatnonzero(done):
                assert_close_obs(infos["final_obs"][i], expected["final_obs"][i])
                assert_close_obs(infos["final_info"]["state"][i], expected["final_info"]["state"][i])
                assert infos["final_info"]["step"][i] == expected["final_info"]["step"][i]
        else:
            assert "final_obs" not in infos and "final_info" not in infos
        if mode == AutoresetMode.DISABLED and done.any():
            assert_close_obs(native.reset(options={"reset_mask": done})[0], sync.reset(options={"reset_mask": done.copy()})[0])
    assert (ends >= 2).all()  # every env crossed episode ends, not all at the same step


def test_autoreset_mode_errors_and_the_disabled_mode():
    with pytest.raises(ValueError, match="NEXT_STEP.*SAME_STEP.*DISABLED"):
        WorldSimVectorEnv(num_envs=2, domain="driving", autoreset_mode="sometimes")
    # Gymnasium refuses `vector_kwargs` for a vector entry point; the mode is a keyword argument.
    with pytest.raises(gym.error.Error, match="vector_kwargs"):
        gym.make_vec(
            "WorldSim-driving-latent-v0",
            num_envs=2,
            vectorization_mode="vector_entry_point",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        )
    venv = gym.make_vec("WorldSim-driving-latent-v0", num_envs=2, autoreset_mode="Disabled", episode_steps=2, **FAST)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.DISABLED
    venv.reset(seed=0)
    for _ in range(2):
        _, _, terminated, truncated, _ = venv.step(np.array([1, 1]))
    assert (terminated | truncated).all()
    with pytest.raises(RuntimeError, match="reset_mask"):
        venv.step(np.array([1, 1]))
    with pytest.raises(TypeError, match="numpy array"):
        venv.reset(options={"reset_mask": [True, False]})
    with pytest.raises(ValueError, match="selects no env"):
        venv.reset(options={"reset_mask": np.zeros(2, bool)})
    with pytest.raises(ValueError, match="unknown reset option"):
        venv.reset(options={"scenario": "cut_in"})
    venv.reset(options={"reset_mask": np.ones(2, bool)})
    venv.step(np.array([1, 1]))  # usable again


def test_sb3_adapter_keeps_its_same_step_restart():
    from worldsim.envs.sb3 import WorldSimSB3VecEnv

    with pytest.raises(ValueError, match="NEXT_STEP"):
        WorldSimSB3VecEnv(num_envs=2, domain="driving", obs_type="latent", autoreset_mode=AutoresetMode.SAME_STEP, **FAST)
    venv = WorldSimSB3VecEnv(num_envs=2, domain="driving", obs_type="latent", episode_steps=3, **FAST)
    venv.seed(0)
    venv.reset()
    ends = 0
    for _ in range(6):
        obs, _, dones, infos = venv.step(np.array([1, 1]))
        for i in np.flatnonzero(dones):
            assert not np.array_equal(obs[i], infos[i]["terminal_observation"])
            assert venv.venv._t[i] == 0  # restarted within the step, as SB3 expects
            ends += 1
    assert ends >= 4
