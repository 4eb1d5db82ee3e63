"""Training one Stable-Baselines3 agent in a dream (or on the real simulator, the baseline), scored
on the real simulator: the number that counts.

`train_agent` writes the run directory (TensorBoard logs, checkpoints, the best and final agents)
and result.json, which records the run's `AgentConfig`. `finished` reads it back: an experiment
that is run again reuses every agent whose recorded configuration trains the same agent, so a
killed experiment loses only the agent it was training.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import CheckpointCallback

from worldsim import domains
from worldsim.agents.callbacks import ProgressBar, TimedEvalCallback
from worldsim.agents.command import command_line, crash_rule_flag
from worldsim.agents.envs import RescaledActions, dream_of, dream_venv, needs_rescaling, real_venv
from worldsim.model.checkpoint import write_json

ALGOS = ("ppo", "sac")

# Fields that change nothing an agent learns: runs that differ only in them are the same run.
# (eval_every picks which mid-run agent is kept as best, not what the final agent learns.)
UNTRAINED = ("quiet", "threads", "eval_every", "out")


@dataclass(kw_only=True)
class AgentConfig:
    domain: str
    checkpoint: str | None = None  # world model run (None: the shipped weights)
    obs_type: str = "latent"  # pixels, latent or state
    algo: str = "ppo"
    steps: int = 50_000  # environment steps
    num_envs: int = 16  # parallel envs (dreams are one torch batch)
    physics_blend: float = 1.0
    episode_steps: int | None = None  # episode length in both worlds (None: the domain's)
    crash_rule: bool | None = None  # driving dreams' state-overlap rule (None: the domain's default)
    real: bool = False  # train on the real simulator instead (the baseline)
    eval_every: int = 10_000  # steps between real-simulator evaluations during training (0: only the final one)
    eval_episodes: int = 5
    seed: int = 0
    threads: int | None = None  # torch threads (None: torch's own choice)
    out: str
    quiet: bool = False

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; choose one of {', '.join(ALGOS)}")
        # Paths are kept as strings: the config is recorded as JSON and compared as such.
        self.checkpoint = None if self.checkpoint is None else str(self.checkpoint)
        self.out = str(self.out)


def make_agent(algo: str, venv, obs_type: str, seed: int, tensorboard: str | None, steps: int):
    import stable_baselines3

    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; choose one of {', '.join(ALGOS)}")
    policy = "CnnPolicy" if obs_type == "pixels" else "MlpPolicy"
    kwargs: dict[str, Any] = {"seed": seed, "device": "cpu", "verbose": 0, "tensorboard_log": tensorboard}
    if algo == "ppo":
        # ~1024 steps per update over all envs (fewer for tiny budgets), in minibatches of 256.
        n_steps = max(8, min(1024, steps) // venv.num_envs)
        kwargs.update(n_steps=n_steps, batch_size=min(256, n_steps * venv.num_envs))
    return getattr(stable_baselines3, algo.upper())(policy, venv, **kwargs)


def load_agent(path: str | Path):
    """An agent `train_agent` saved (final.zip, best/best_model.zip, checkpoints/*.zip), on the CPU.
    PPO or SAC is read from the run's result.json when there is one (SB3 zips do not say)."""
    import stable_baselines3

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such agent")
    algo = stable_baselines3.PPO
    for result in (path.parent / "result.json", path.parent.parent / "result.json"):
        if result.is_file():
            algo = getattr(stable_baselines3, json.loads(result.read_text())["algo"].upper())
            break
    return algo.load(path, device="cpu")


def evaluate(agent, venv, episodes: int) -> dict[str, float]:
    """Mean and std of the return over `episodes` complete episodes, deterministic actions."""
    returns, current = [], np.zeros(venv.num_envs)
    obs = venv.reset()
    while len(returns) < episodes:
        actions, _ = agent.predict(obs, deterministic=True)
        obs, rewards, dones, _ = venv.step(actions)
        current += rewards
        for i in np.flatnonzero(dones):
            returns.append(float(current[i]))
            current[i] = 0.0
    returns = returns[:episodes]
    return {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "episodes": len(returns)}


def train_agent(config: AgentConfig) -> dict:
    """Train, evaluate on the real simulator, write the run directory; the result it records."""
    c = config
    if c.threads:
        torch.set_num_threads(c.threads)
    out = Path(c.out)
    out.mkdir(parents=True, exist_ok=True)
    if c.real:
        # Simulators step one at a time in this process: more copies only add memory.
        venv = real_venv(c.domain, c.checkpoint, c.obs_type, min(c.num_envs, 2), c.seed, c.episode_steps)
    else:
        venv = dream_venv(c.domain, c.checkpoint, c.obs_type, c.num_envs, c.seed, c.physics_blend, c.episode_steps, c.crash_rule)
    agent = make_agent(c.algo, venv, c.obs_type, c.seed, str(out / "tb"), c.steps)
    eval_env = real_venv(c.domain, c.checkpoint, c.obs_type, 1, c.seed + 10_000, c.episode_steps)

    def per_env(steps: int) -> int:  # SB3 counts callback calls, one per step of all envs
        return max(1, steps // venv.num_envs)

    # eval_freq past the last call: SB3 never evaluates during training (eval_every 0).
    evaluation = TimedEvalCallback(
        eval_env,
        n_eval_episodes=c.eval_episodes,
        eval_freq=per_env(c.eval_every) if c.eval_every > 0 else c.steps + 1,
        best_model_save_path=str(out / "best"),
        log_path=str(out / "eval"),
        verbose=0,
    )
    callbacks = [
        ProgressBar(c.steps, f"{c.algo} {'real' if c.real else 'dream'} {c.domain}", disable=c.quiet),
        CheckpointCallback(per_env(max(c.steps // 5, 1)), str(out / "checkpoints"), name_prefix="agent"),
        evaluation,
    ]
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Training in the dream and evaluating on the real simulator is the point, not a mistake.
        warnings.filterwarnings("ignore", message="Training and eval env are not of the same type")
        agent.learn(total_timesteps=c.steps, callback=callbacks)
    train_s = time.perf_counter() - start - evaluation.seconds
    agent.save(out / "final.zip")
    result = {
        "domain": c.domain,
        "algo": c.algo,
        "obs_type": c.obs_type,
        "trained_in": "real" if c.real else "dream",
        "steps": int(agent.num_timesteps),
        "seed": c.seed,
        "train_wall_clock_s": train_s,
        "eval_wall_clock_s": evaluation.seconds,
        "crash_rule": None if c.real else dream_of(venv).crash_rule,
        "rescaled_actions": isinstance(venv, RescaledActions),
        "real_return": evaluate(agent, eval_env, c.eval_episodes),
        "config": asdict(c),
        "command": command_line("train.py", c, crash_rule=crash_rule_flag(c.crash_rule)),
    }
    write_json(out / "result.json", result)
    venv.close()
    eval_env.close()
    return result


def finished(config: AgentConfig) -> dict | None:
    """The result of an identical run that already finished in `config.out`, or None when the agent
    must be trained. Identical: the recorded config equals this one up to the fields that train
    nothing differently (`UNTRAINED`), and the dream's crash rule and the agent's action units, as
    they were resolved, equal those this config resolves to now (their defaults may have changed
    since the run was trained)."""
    path = Path(config.out) / "result.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    recorded = result.get("config")
    if not isinstance(recorded, dict) or _what_trains(recorded) != _what_trains(asdict(config)):
        return None
    crash_rule = None if config.real else domains.get(config.domain).resolve_crash_rule(config.crash_rule)
    if result.get("crash_rule") != crash_rule:
        return None
    return result if result.get("rescaled_actions") == needs_rescaling(config.domain, config.checkpoint) else None


def _what_trains(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in UNTRAINED}
