import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from worldsim.agents import AgentConfig, RescaledActions, dream_venv, finished, needs_rescaling, to_env_action

AGENTS = Path(__file__).resolve().parent.parent / "agents"


def script(name: str):
    spec = importlib.util.spec_from_file_location(f"agents_{name}", AGENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pusht_run(tiny_run):
    return tiny_run("robotics")


def train_tiny_agent(run, out) -> dict:
    """A 32-step PPO agent in the tiny PushT dream, for the tests that need some agent."""
    argv = ["--checkpoint", str(run), "--out", str(out), *"--domain robotics --steps 32 --num-envs 4".split()]
    return script("train").main(argv + "--eval-episodes 1 --episode-steps 5 --quiet".split())


@pytest.mark.parametrize("where", ["dream", "real"])
def test_train_script_end_to_end(pusht_run, tmp_path, where):
    from stable_baselines3 import PPO

    from worldsim.envs import RealWorldEnv, WorldSimEnv

    out = tmp_path / where
    argv = [
        "--domain",
        "robotics",
        "--checkpoint",
        str(pusht_run),
        "--steps",
        "128",
        "--num-envs",
        "4",
        "--eval-every",
        "64",
        "--eval-episodes",
        "1",
        "--episode-steps",
        "20",
        "--out",
        str(out),
        "--quiet",
    ] + (["--real"] if where == "real" else [])
    result = script("train").main(argv)
    assert result["steps"] >= 128 and result["trained_in"] == where
    assert json.loads((out / "result.json").read_text())["real_return"]["episodes"] == 1
    assert (out / "final.zip").is_file() and (out / "best" / "best_model.zip").is_file() and any((out / "tb").iterdir())
    agent = PPO.load(out / "final.zip", device="cpu")  # the saved agent acts in the dream and in the real env
    for env in (WorldSimEnv(checkpoint=pusht_run, obs_type="latent"), RealWorldEnv(checkpoint=pusht_run, obs_type="latent")):
        obs, _ = env.reset(seed=0)
        action = agent.predict(obs, deterministic=True)[0]  # in [-1, 1]: PushT's bounds are wider
        obs, *_ = env.step(to_env_action(env.action_space, action))
        assert env.observation_space.contains(obs)
        env.close()


def test_the_shipped_games_latent_an_agent_observes_has_no_column_of_outsize_scale(monkeypatch):
    """What a policy's first layer reads off the real simulator at full gas: the carried score and
    wheel spin rates, unscaled, sat in the latent at up to 100+ while every other column stays
    within a few units, and PPO trained on the simulator through it learned nothing."""
    from worldsim.envs import RealWorldEnv

    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    env = RealWorldEnv(domain="games", obs_type="latent")
    seen = [env.reset(seed=0)[0]]
    for _ in range(60):
        seen.append(env.step(np.array([0.0, 1.0, 0.0], np.float32))[0])
    env.close()
    assert np.abs(np.array(seen)).max() < 10


def test_transfer_experiment_at_a_tiny_budget(pusht_run, tmp_path):
    module = script("transfer")
    argv = [
        *"--domain robotics --checkpoint".split(),
        str(pusht_run),
        *"--steps 64 --seeds 0,1 --num-envs 4 --episode-steps 10 --eval-episodes 2 --out".split(),
        str(tmp_path),
        "--quiet",
    ]
    report = module.main(argv)
    assert set(report["summary"]) == {"dream", "real", "random"}
    assert all(len(report["runs"][k]) == 2 for k in ("dream", "real", "random"))
    assert report["summary"]["dream"]["train_wall_clock_s"] > 0 and report["summary"]["random"]["train_wall_clock_s"] is None
    assert (tmp_path / "transfer.json").is_file() and "PPO in WorldSim" in module.format_report(report)


def test_transfer_rerun_resumes_from_finished_agents(pusht_run, tmp_path):
    module = script("transfer")
    argv = [
        *"--domain robotics --checkpoint".split(),
        str(pusht_run),
        *"--steps 32 --seeds 0 --num-envs 4 --episode-steps 5 --eval-episodes 1 --out".split(),
        str(tmp_path),
        "--quiet",
    ]
    first = module.main(argv)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")}
    second = module.main(argv)
    assert len(stamps) == 2 and stamps == {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")}
    assert second["summary"] == first["summary"]
    quiet_or_not = module.main([*argv[:-1], "--threads", "1"])  # options that train nothing differently
    assert quiet_or_not["summary"] == first["summary"]
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")}
    changed = module.main([*argv, "--num-envs", "2"])  # a different experiment trains again
    assert changed["runs"]["dream"][0]["config"]["num_envs"] == 2 and "--num-envs 2" in changed["runs"]["dream"][0]["command"]
    assert stamps != {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")}


def test_diagnose_measures_every_agent_in_both_worlds(pusht_run, tmp_path):
    train_tiny_agent(pusht_run, tmp_path / "agent")
    module = script("diagnose")
    argv = [
        *"--domain robotics --checkpoint".split(),
        str(pusht_run),
        "--agent",
        f"ppo={tmp_path / 'agent' / 'final.zip'}",
        *"--episodes 2 --episode-steps 6 --horizon 3 --stride 2 --out".split(),
        str(tmp_path / "d.json"),
    ]
    report = module.main(argv)
    assert set(report["agents"]) == {"ppo", "random"}
    for a in report["agents"].values():
        assert a["real_return"] == pytest.approx(a["return_true"])  # the heads were scored on the played episodes
        assert a["real_episode_steps"] == 6 and a["open_loop_windows"] == 2 * 2  # starts 0 and 2 of each episode
        assert a["reward_mae"] >= 0 and 0 < a["open_loop_psnr"] <= 100 and np.isfinite(a["dream_return"])
    assert json.loads((tmp_path / "d.json").read_text())["horizon"] == 3 and "random" in module.format_report(report)
    with pytest.raises(ValueError, match="LABEL=PATH"):
        module.main(["--domain", "robotics", "--agent", "no-equals-sign"])


def test_transfer_runs_only_the_agents_asked_for(pusht_run, tmp_path):
    module = script("transfer")
    argv = [
        *"--domain robotics --checkpoint".split(),
        str(pusht_run),
        *"--steps 32 --seeds 0 --num-envs 4 --episode-steps 5 --eval-episodes 1 --out".split(),
        str(tmp_path),
        "--quiet",
    ]
    report = module.main([*argv, "--agents", "dream,random"])
    assert set(report["runs"]) == {"dream", "random"} and not (tmp_path / "real-seed0").exists()
    assert "PPO on simulator" not in module.format_report(report) and report["crash_rule"] is False
    with pytest.raises(ValueError, match="--agents"):
        module.main([*argv, "--agents", "dream,imagined"])


def test_correct_heads_changes_only_the_heads(pusht_run, tmp_path):
    import torch

    from worldsim.model.checkpoint import load_model

    train_tiny_agent(pusht_run, tmp_path / "agent")
    argv = [
        *"--domain robotics --checkpoint".split(),
        str(pusht_run),
        "--agent",
        str(tmp_path / "agent" / "final.zip"),
        *"--episodes 2 --episode-steps 12 --data".split(),
        str(pusht_run.parent / "data"),
        *"--steps 3 --batch-size 4 --out".split(),
        str(tmp_path / "corrected"),
        "--quiet",
    ]
    result = script("correct_heads").main(argv)
    assert result["real_steps"] == 24
    before, _ = load_model(pusht_run)
    after, _ = load_model(tmp_path / "corrected")
    changed = {k for k, v in after.state_dict().items() if not torch.equal(v, before.state_dict()[k])}
    assert changed and all(k.startswith(("reward_head.", "termination_head.")) for k in changed)
    assert (tmp_path / "corrected" / "start_frames.npz").is_file()
    assert json.loads((tmp_path / "corrected" / "correction.json").read_text())["episodes"] == 2
    with pytest.raises(FileExistsError, match="already holds"):
        script("correct_heads").main(argv)


def test_transfer_with_head_correction_rounds(pusht_run, tmp_path):
    module = script("transfer")
    argv = [
        *"--domain robotics --checkpoint".split(),
        str(pusht_run),
        *"--steps 32 --seeds 0 --num-envs 4 --episode-steps 6 --eval-episodes 1 --agents dream".split(),
        *"--correct-rounds 2 --correct-episodes 1 --correct-steps 2 --correct-data".split(),
        str(pusht_run.parent / "data"),
        "--out",
        str(tmp_path),
        "--quiet",
    ]
    report = module.main(argv)
    dream = report["runs"]["dream"][0]
    assert [r["real_steps"] for r in dream["correction"]["rounds"]] == [6, 6] and dream["correction"]["real_steps"] == 12
    assert dream["config"]["checkpoint"] == str(tmp_path / "heads-seed0-r2")  # the last agent learned in the last dream
    assert f"--checkpoint {tmp_path / 'heads-seed0-r2'}" in dream["command"]
    first = json.loads((tmp_path / "dream-seed0" / "result.json").read_text())
    assert dream["train_wall_clock_s"] > first["train_wall_clock_s"]  # every round's cost is counted
    assert report["summary"]["dream"]["correction_real_steps"] == 12 and "head correction" in module.format_report(report)
    assert (tmp_path / "heads-seed0-r1" / "correction.json").is_file() and (tmp_path / "dream-seed0-r2" / "final.zip").is_file()


def test_agents_act_in_unit_box_where_the_domain_says_so(pusht_run, tmp_path):
    assert needs_rescaling("robotics", pusht_run) and not needs_rescaling("games") and not needs_rescaling("driving")
    venv = dream_venv("robotics", str(pusht_run), "latent", 2, seed=0)
    assert isinstance(venv, RescaledActions) and venv.action_space.low.min() == -1 and venv.action_space.high.max() == 1
    space = venv.env_space
    assert np.allclose(to_env_action(space, np.array([-1.0, 1.0])), [space.low[0], space.high[1]])
    assert np.allclose(to_env_action(space, np.array([0.0, 5.0])), [(space.low[0] + space.high[0]) / 2, space.high[1]])
    venv.reset()
    venv.step(np.zeros((2, 2), np.float32))
    result = script("train").main(
        [
            "--domain",
            "robotics",
            "--checkpoint",
            str(pusht_run),
            "--steps",
            "16",
            "--num-envs",
            "2",
            "--eval-every",
            "0",
            "--eval-episodes",
            "1",
            "--episode-steps",
            "4",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert result["rescaled_actions"] is True and not (tmp_path / "best" / "best_model.zip").exists()  # no mid-run evaluation


def test_finished_reuses_a_run_only_when_it_would_train_the_same_agent(pusht_run, tmp_path):
    from dataclasses import replace

    from worldsim.agents import train_agent

    config = AgentConfig(
        domain="robotics",
        checkpoint=str(pusht_run),
        steps=16,
        num_envs=2,
        eval_every=0,
        eval_episodes=1,
        episode_steps=4,
        out=str(tmp_path / "run"),
        quiet=True,
    )
    assert finished(config) is None  # nothing on disk yet
    result = train_agent(config)
    assert result["config"]["steps"] == 16 and finished(config) == result
    same = replace(config, quiet=False, threads=1, eval_every=64)  # options that train nothing differently
    assert finished(same) == result
    for different in (replace(config, steps=32), replace(config, seed=1), replace(config, crash_rule=False)):
        assert finished(different) is None
    recorded = json.loads((tmp_path / "run" / "result.json").read_text())
    del recorded["config"]  # a result that records no configuration cannot be compared: trained again
    (tmp_path / "run" / "result.json").write_text(json.dumps(recorded))
    assert finished(config) is None


def test_the_dream_agents_train_at_the_physics_blend_asked_for_and_the_real_ones_do_not_dream():
    from worldsim.agents.transfer import TransferConfig, agent_config

    config = TransferConfig(domain="driving", physics_blend=0.3, out="runs/x")
    assert agent_config(config, "dream", 0).physics_blend == 0.3
    real = agent_config(config, "real", 0)
    assert real.real and real.physics_blend == 1.0  # one real agent serves every blend's comparison
    parsed = script("transfer").config(script("transfer").parse(["--domain", "driving", "--physics-blend", "0.3", "--out", "x"]))
    assert parsed.physics_blend == 0.3
