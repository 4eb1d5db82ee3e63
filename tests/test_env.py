import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from worldsim.envs import WorldSimEnv


@pytest.fixture(scope="module", params=["driving", "robotics", "games"])
def checkpoint(request, tiny_run):
    return tiny_run(request.param)


def make(checkpoint, **kw):
    return WorldSimEnv(checkpoint=checkpoint, **kw)


@pytest.mark.parametrize("obs_type", ["pixels", "latent", "state"])
def test_gymnasium_check_env(checkpoint, obs_type, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # the checker also opens the human window
    env = gym.make("WorldSim-v0", checkpoint=str(checkpoint), obs_type=obs_type, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Allowed: PushT's actions are target positions in its own 0..512 units, kept as they are
        # so that a policy moves unchanged between the dream and the real simulator.
        warnings.filterwarnings("ignore", message=".*recommend using a symmetric and normalized space.*")
        check_env(env.unwrapped, skip_render_check=False)


def test_registered_ids_and_make(checkpoint):
    env = gym.make("worldsim:WorldSim-v0", checkpoint=str(checkpoint), domain=None)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert set(info) == {"state", "physics_blend", "step"}
    for env_id in ("WorldSim-driving-v0", "WorldSim-robotics-v0", "WorldSim-games-v0"):
        assert env_id in gym.registry


def test_hundred_steps_are_deterministic(checkpoint):
    def run(seed):
        """Observations and rewards (0.0 after a reset) of 100 steps with seeded random actions."""
        env = make(checkpoint, physics_blend=0.5)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        observations, rewards = [obs], [0.0]
        for _ in range(100):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            observations.append(obs)
            rewards.append(reward)
            if terminated or truncated:
                observations.append(env.reset()[0])
                rewards.append(0.0)
        return np.stack(observations), np.array(rewards)

    (obs_a, rew_a), (obs_b, rew_b), (obs_c, _) = run(5), run(5), run(6)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    assert obs_a.shape != obs_c.shape or not np.array_equal(obs_a, obs_c)


def test_undrawn_dream_has_the_same_latents(checkpoint):
    quiet, drawn = make(checkpoint, obs_type="latent"), make(checkpoint, obs_type="latent", render_mode="rgb_array")
    assert not quiet.dream.draw and drawn.dream.draw
    a, _ = quiet.reset(seed=5)
    b, _ = drawn.reset(seed=5)
    quiet.action_space.seed(5)
    for _ in range(20):
        action = quiet.action_space.sample()
        a, ra, *_ = quiet.step(action)
        b, rb, *_ = drawn.step(action)
        np.testing.assert_array_equal(a, b)
        assert ra == rb
    assert quiet.render() is None and drawn.render().shape[-1] == 3


def test_ten_thousand_steps_stay_finite_and_valid(checkpoint):
    env = make(checkpoint, episode_steps=10_000)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(10_000):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs.dtype == np.uint8 and obs.shape == env.observation_space.shape
        assert np.isfinite(reward) and np.isfinite(info["state"]).all()
        if terminated or truncated:
            env.reset()
    assert np.isfinite(env.dream.latents()).all()


@pytest.mark.parametrize("obs_type", ["pixels", "latent", "state"])
def test_real_world_env_observes_like_the_dream(checkpoint, obs_type):
    import torch

    from worldsim.envs import RealWorldEnv

    real, dream = RealWorldEnv(checkpoint=checkpoint, obs_type=obs_type), make(checkpoint, obs_type=obs_type)
    assert real.observation_space == dream.observation_space and real.action_space == dream.action_space
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*symmetric and normalized.*")  # PushT units, see above
        check_env(real, skip_render_check=True)
    obs, info = real.reset(seed=1)
    if obs_type == "latent":  # the first latent is the encoder's reading of the real first frame
        frame = torch.tensor(real._obs.frame)[None]
        np.testing.assert_allclose(obs, real.model.encode(frame)[0].numpy(), atol=1e-6)
    real.close()


def test_truncates_at_episode_steps(checkpoint):
    env = make(checkpoint, episode_steps=5)
    env.reset(seed=0)
    flags = []
    for _ in range(5):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        flags.append((terminated, truncated))
        if terminated:
            break
    assert flags[-1] == (False, True) or flags[-1][0]


def test_driving_dreams_end_at_an_imagined_crash(checkpoint):
    import torch

    from worldsim.envs.vector_env import WorldSimVectorEnv

    domain = WorldSimEnv(checkpoint=checkpoint, obs_type="latent").domain
    if domain != "driving":
        with pytest.raises(ValueError, match="no state-overlap crash rule"):
            WorldSimEnv(checkpoint=checkpoint, obs_type="latent", crash_rule=True)
        return
    ends = {}
    for rule in (None, False):
        venv = WorldSimVectorEnv(num_envs=2, checkpoint=checkpoint, obs_type="latent", crash_rule=rule)
        model = venv.dream.model
        state = torch.zeros(2, model.config.state_dim)
        state[0, 5:8] = torch.tensor([1.0, 3.0, 0.5])  # env 0: a car 3 m ahead in the ego's lane
        latent = torch.zeros(2, model.config.latent_dim)
        latent[:, : model.config.state_code_dim] = model.normalise_state(state)
        model.imagine_step = lambda *args, latent=latent: latent.clone()
        model.termination_logit = lambda latent: torch.full(latent.shape[:-1], -10.0)  # the head never fires
        venv.reset(seed=0)
        ends[rule] = venv.step(np.zeros(2, dtype=np.int64))[2].tolist()
    assert ends == {None: [True, False], False: [False, False]}  # on by default for driving


def test_bad_actions_and_options_are_clear_errors(checkpoint):
    env = make(checkpoint)
    env.reset(seed=0)
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        bad = [
            (7, ValueError, "outside"),
            (1.5, TypeError, "integer"),
            (True, TypeError, "integer"),
            (np.array([1, 2]), TypeError, "single integer"),
        ]
    else:
        valid = space.sample()
        nan, outside = valid.copy(), valid.copy()
        nan[0], outside[0] = np.nan, space.low[0] - 5.0
        bad = [
            (np.zeros(space.shape[0] + 1, np.float32), ValueError, "shape"),
            (nan, ValueError, "NaN"),
            (outside, ValueError, "outside"),
            ("left", TypeError, "numeric"),
        ]
    for action, error, words in bad:
        with pytest.raises(error, match=words):
            env.step(action)
    env.step(space.sample())  # still usable
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"weather": "rain"})
    with pytest.raises(ValueError, match="frames"):
        env.reset(options={"context": {"frames": np.zeros((2, 8, 8, 3), np.uint8)}})
    with pytest.raises(ValueError, match="obs_type"):
        make(checkpoint, obs_type="audio")
    with pytest.raises(ValueError, match="physics_blend"):
        make(checkpoint, physics_blend=1.5)
    with pytest.raises(ValueError, match="unknown domain"):
        WorldSimEnv(domain="flying")


def test_reset_from_given_context(checkpoint):
    env = make(checkpoint)
    bank_frames = env.dream.bank["frames"][0].numpy()
    bank_actions = env.dream.bank["actions"][0].numpy()
    obs, _ = env.reset(seed=0, options={"context": {"frames": bank_frames, "actions": bank_actions}})
    np.testing.assert_array_equal(obs, bank_frames[-1])  # the first observation is the last real frame


def test_reset_from_scenario_start(checkpoint):
    from worldsim.envs.scenario_start import scenario_context

    env = make(checkpoint)
    name = {"driving": "cut_in", "robotics": "block_near_goal", "games": "fixed_track"}[env.domain]
    frames, actions = scenario_context(name, env.domain, env.model.config.frame_size, env.context_frames)
    assert len(frames) == env.context_frames and len(actions) == env.context_frames - 1
    obs, _ = env.reset(seed=0, options={"scenario": name})
    np.testing.assert_array_equal(obs, frames[-1])  # the dream starts at the scenario's real frame
    other = {"driving": "block_near_goal", "robotics": "cut_in", "games": "cut_in"}[env.domain]
    with pytest.raises(ValueError, match="domain"):
        env.reset(options={"scenario": other})
    with pytest.raises(ValueError, match="give one"):
        env.reset(options={"scenario": name, "context": {"frames": frames}})
    env.step(env.action_space.sample())  # still usable


def test_human_render_opens_a_window(checkpoint, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    env = make(checkpoint, render_mode="human")
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    import pygame

    surface = pygame.display.get_surface()
    assert surface is not None and surface.get_width() >= env.model.config.frame_size * 4
    env.close()
    assert not pygame.display.get_init() or pygame.display.get_surface() is None


def test_keys_to_action(checkpoint):
    env = make(checkpoint)
    # No empty key tuple: gymnasium.utils.play rejects it; the no-op is play's `noop=` argument.
    if env.domain == "driving":
        mapping = env.get_keys_to_action()
        assert () not in mapping and sorted(mapping.values()) == [0, 2, 3, 4] and env.noop_action() == 1
    elif env.domain == "games":
        mapping = env.get_keys_to_action()
        assert () not in mapping and len(mapping) == 8
        assert all(env.action_space.contains(a) for a in [*mapping.values(), env.noop_action()])
    else:
        with pytest.raises(ValueError, match="mouse"):
            env.get_keys_to_action()


def test_vector_env_equals_single_envs(checkpoint):
    n, steps = 3, 12
    vec = gym.make_vec("WorldSim-v0", num_envs=n, checkpoint=str(checkpoint), episode_steps=5)
    assert vec.metadata["autoreset_mode"].name == "NEXT_STEP"
    singles = [WorldSimEnv(checkpoint=checkpoint, episode_steps=5) for _ in range(n)]
    obs, _ = vec.reset(seed=10)
    single_obs = [env.reset(seed=10 + i)[0] for i, env in enumerate(singles)]
    np.testing.assert_allclose(obs.astype(int), np.stack(single_obs).astype(int), atol=1)
    vec.action_space.seed(0)
    ended, restarts = np.zeros(n, bool), 0
    for _ in range(steps):
        actions = vec.action_space.sample()
        obs, rewards, terminated, truncated, _ = vec.step(actions)
        for i, env in enumerate(singles):
            if ended[i]:
                expected, reward = env.reset()[0], 0.0
                restarts += 1
                assert not terminated[i] and not truncated[i]
            else:
                expected, reward, term, trunc, _ = env.step(actions[i])
                assert (term, trunc) == (terminated[i], truncated[i])
            # Batched and single matrix products may differ in the last float bits: one grey level at most.
            np.testing.assert_allclose(obs[i].astype(int), expected.astype(int), atol=1)
            assert abs(rewards[i] - reward) < 1e-4
        ended = terminated | truncated
    assert restarts >= n  # every env reached its 5-step limit at least once and was autoreset


def test_vector_env_rejects_bad_actions(checkpoint):
    vec = gym.make_vec("WorldSim-v0", num_envs=2, checkpoint=str(checkpoint))
    vec.reset(seed=0)
    with pytest.raises((ValueError, TypeError)):
        vec.step(np.zeros((3,) + vec.single_action_space.shape, vec.single_action_space.dtype))
    vec.step(vec.action_space.sample())


def test_sb3_check_env_and_ppo(checkpoint, monkeypatch, tmp_path):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from worldsim.envs.sb3 import WorldSimSB3VecEnv

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    for obs_type in ("pixels", "latent"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", message=".*symmetric and normalized.*")  # PushT units, see above
            sb3_check_env(WorldSimEnv(checkpoint=checkpoint, obs_type=obs_type))
    venv = WorldSimSB3VecEnv(num_envs=4, checkpoint=checkpoint, obs_type="latent", episode_steps=20)
    venv.seed(3)
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=128, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=2048)
    assert model.num_timesteps >= 2048
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    obs, rewards, dones, infos = venv.step(action)
    assert obs.shape == (4, venv.observation_space.shape[0]) and len(infos) == 4

    # The trained policy, saved, films in the dream (its latent observations are read off its zip).
    from worldsim.rollout import RolloutRequest, rollout

    model.save(tmp_path / "ppo.zip")
    result = rollout(RolloutRequest(checkpoint=str(checkpoint), policy=str(tmp_path / "ppo.zip"), steps=3), tmp_path / "ppo.mp4")
    assert result["obs_type"] == "latent" and result["frames"] == result["steps"] + 1
    with pytest.raises(ValueError, match="latent"):
        rollout(
            RolloutRequest(checkpoint=str(checkpoint), policy=str(tmp_path / "ppo.zip"), side_by_side=True), tmp_path / "x.mp4"
        )

    # ... and acts unchanged on the real simulator, observed through the same encoder.
    from worldsim.envs import RealWorldEnv

    agent = PPO.load(tmp_path / "ppo.zip", device="cpu")
    monkeypatch.delenv("SDL_VIDEODRIVER")  # set above for the human-window check; highway-env refuses it
    real = RealWorldEnv(checkpoint=checkpoint, obs_type="latent", episode_steps=4)
    obs, _ = real.reset(seed=0)
    for _ in range(4):
        obs, reward, terminated, truncated, info = real.step(agent.predict(obs, deterministic=True)[0])
        assert real.observation_space.contains(obs) and np.isfinite(reward)
        if terminated or truncated:
            break
    assert truncated or terminated
    real.close()


def test_spec_json_and_pickle(checkpoint):
    import copy
    import pickle

    env = gym.make("WorldSim-v0", checkpoint=str(checkpoint), obs_type="state", physics_blend=0.5)
    spec = gym.envs.registration.EnvSpec.from_json(env.spec.to_json())
    assert spec.kwargs["checkpoint"] == str(checkpoint) and spec.kwargs["physics_blend"] == 0.5
    env.reset(seed=1)
    env.step(env.action_space.sample())
    # The issue asks that envs pickle: the env serialises, and a copy rebuilt through the same
    # __getstate__/__setstate__ pickling uses (deepcopy, no bytes loaded) continues its dream.
    assert len(pickle.dumps(env)) > 0
    clone = copy.deepcopy(env)
    action = env.action_space.sample()
    a, b = env.step(action), clone.step(action)
    np.testing.assert_array_equal(a[0], b[0])  # the copy continues the same dream, noise included
    assert a[1] == b[1]


def test_dream_demo_writes_a_video(checkpoint, tmp_path, capsys):
    import json

    import imageio.v3 as iio

    from worldsim.cli import main

    domain = make(checkpoint).domain
    args = ["dream", "--domains", domain, "--checkpoint", str(checkpoint), "--steps", "6", "--out", str(tmp_path), "--json"]
    args.append("--no-simulator")  # the dream alone; side by side is tests/test_dream_demo.py
    assert main(args) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["domain"] == domain and 1 <= row["steps"] <= 6 and row["steps_per_s"] > 0
    video = iio.imread(row["video"])
    assert video.shape[0] == row["steps"] + 1 and video.shape[-1] == 3  # the first frame, then one per step
    assert main(["dream", "--domains", "driving", "games", "--checkpoint", str(checkpoint)]) == 2


@pytest.mark.parametrize("side_by_side", [False, True])
def test_rollout_video_round_trip(checkpoint, tmp_path, side_by_side):
    import imageio.v3 as iio

    from worldsim.rollout import RolloutRequest, rollout

    out = tmp_path / ("clip.gif" if side_by_side else "clip.mp4")
    result = rollout(RolloutRequest(checkpoint=str(checkpoint), steps=4, seed=1, side_by_side=side_by_side), out)
    video = iio.imread(out)
    size = make(checkpoint).model.config.frame_size
    width = 2 * size + 2 if side_by_side else size
    assert len(video) == result["frames"] == result["steps"] + 1 and 1 <= result["steps"] <= 4
    assert video.shape[1:3] == (4 * size, 4 * width)  # upscaled 4x for viewing
    if side_by_side:
        assert "real_return" in result
    with pytest.raises(ValueError, match="mp4"):
        rollout(RolloutRequest(checkpoint=str(checkpoint), steps=2), tmp_path / "clip.avi")


def test_side_by_side_refuses_a_real_episode_that_ends_before_the_dream_starts(tiny_run, tmp_path, monkeypatch):
    import dataclasses

    import worldsim.sources
    from worldsim.rollout import RolloutRequest, rollout

    run, real_source = tiny_run("robotics"), worldsim.sources.make_source

    def crashing_source(*args, **kwargs):  # the simulator ends its episode on the first step
        source = real_source(*args, **kwargs)
        step = source.step
        source.step = lambda action: dataclasses.replace(step(action), terminated=True)
        return source

    monkeypatch.setattr(worldsim.sources, "make_source", crashing_source)
    request = RolloutRequest(checkpoint=str(run), steps=4, seed=5, side_by_side=True)
    with pytest.raises(ValueError, match="episode of seed 5 ended after 1 step.*try another --seed"):
        rollout(request, tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


def test_headless_play_with_scripted_keys_records_a_video(checkpoint, tmp_path, monkeypatch):
    import imageio.v3 as iio
    import pygame

    from worldsim.play import PlayConfig, PlaySession

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    session = PlaySession(
        PlayConfig(checkpoint=str(checkpoint), max_frames=40, fps=0, step_hz=15, record=str(tmp_path / "play.mp4"))
    )
    first_alpha = session.env.physics_blend
    key = {"driving": pygame.K_RIGHT, "robotics": pygame.K_RIGHT, "games": pygame.K_UP}[session.domain]

    def script(frame):  # hold a control key for frames 5-20, lower α, pause for frames 30-35
        events = {
            5: [(pygame.KEYDOWN, key)],
            20: [(pygame.KEYUP, key)],
            25: [(pygame.KEYDOWN, pygame.K_LEFTBRACKET)],
            30: [(pygame.KEYDOWN, pygame.K_SPACE)],
            35: [(pygame.KEYDOWN, pygame.K_SPACE)],
        }.get(frame, [])
        return [pygame.event.Event(kind, key=k) for kind, k in events]

    result = session.run(events=script)
    assert result["frames"] == 40
    # 40 frames at 4 frames per step, minus the 5 paused frames (30-34), which hold one step boundary
    assert result["steps"] == 9
    assert session.env.physics_blend == pytest.approx(max(0.0, first_alpha - 0.1))
    (video,) = result["videos"]
    frames = iio.imread(video)
    assert len(frames) == result["steps"] and frames.shape[-1] == 3


def test_play_switches_to_the_real_simulator_side_by_side(checkpoint, monkeypatch):
    import pygame

    from worldsim.play import PlayConfig, PlaySession

    if make(checkpoint).domain != "robotics":
        pytest.skip("the real driving simulator refuses the dummy video driver; PushT stands for the others")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    session = PlaySession(PlayConfig(checkpoint=str(checkpoint), max_frames=12, fps=0, step_hz=30))
    width = session.screen.get_width()

    widths = []

    def script(frame):
        widths.append(session.screen.get_width())
        return [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_TAB)] * (frame in (2, 4))  # dream -> real -> both

    result = session.run(events=script)
    assert session.mode == "both" and result["steps"] > 0
    assert widths[0] == width == session.view and widths[-1] == 2 * session.view + 4  # real | dream


@pytest.mark.parametrize(
    "env_id",
    ["WorldSim-v0"]
    + [f"WorldSim-{domain}{obs}-v0" for domain in ("driving", "robotics", "games") for obs in ("", "-latent", "-state")],
)
def test_registered_ids_run_on_the_shipped_weights(env_id, monkeypatch):
    """The ids as users type them: shipped weights, no simulator, both env checkers."""
    import subprocess
    import sys

    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*symmetric and normalized.*")  # PushT units, see above
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped)
    # A fresh interpreter: `worldsim:` imports the package, which registers the ids; no simulator
    # module is imported along the way.
    code = (
        f"import sys, gymnasium as gym; env = gym.make('worldsim:{env_id}'); env.reset(seed=0); "
        "env.step(env.action_space.sample()); "
        "print(sorted(m for m in ('highway_env', 'gym_pusht', 'Box2D', 'pymunk') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
