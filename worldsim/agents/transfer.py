"""The transfer experiment: is an agent trained only in the dream as good on the real simulator?

For each seed, at one budget of environment steps: the agent trained in the dream only, the same
agent trained on the real simulator (observed through the same encoder) and a random policy, all
evaluated on the real simulator. Every agent is an `AgentConfig` derived from one base config, so
the dream and real agents differ in where they train and nothing else; each is reused when
`finished` says an identical run is on disk, so rerunning an experiment resumes it.

With correction rounds, each dream agent plays real episodes, the dream's heads are refitted on
them (`worldsim.agents.correct`) and a new agent is trained from scratch in the corrected dream.
The agent still learns only in the dream, but the dream has now seen real steps: they are reported
with it, and their wall-clock (playing, fitting and every round's training) is counted in its own.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from worldsim import domains
from worldsim.agents.command import command_line, crash_rule_flag
from worldsim.agents.correct import CorrectionConfig, correct_heads
from worldsim.agents.envs import real_venv
from worldsim.agents.play import RandomAgent
from worldsim.agents.training import AgentConfig, evaluate, finished, train_agent
from worldsim.fanout import check_backend, run_jobs
from worldsim.model.checkpoint import write_json

AGENTS = ("dream", "real", "random")


@dataclass(kw_only=True)
class TransferConfig:
    domain: str
    checkpoint: str | None = None
    obs_type: str = "latent"
    algo: str = "ppo"
    steps: int = 20_000  # environment steps per agent
    seeds: tuple[int, ...] = (0, 1, 2)
    num_envs: int = 16
    episode_steps: int | None = None
    eval_episodes: int = 10
    agents: tuple[str, ...] = AGENTS  # which of dream, real, random to run
    crash_rule: bool | None = None  # False: driving dreams end on the termination head alone (the ablation)
    # The dream's α (`WorldSimEnv(physics_blend=...)`): 1 steps the learned dynamics alone, lower
    # values mix in the domain's physics prior. The real-simulator agents do not dream.
    physics_blend: float = 1.0
    correct_rounds: int = 0  # rounds of head correction for each dream agent
    correct_episodes: int = 10  # real episodes the agent plays per round
    correct_steps: int = 300  # head-fitting steps per round
    correct_data: str | None = None  # the model's training data, mixed into head fitting (None: data/<domain>)
    out: str
    threads: int | None = None  # torch threads per run
    quiet: bool = False
    # Where the seeds' runs go: one after another here, or as Ray tasks (worldsim.fanout); how
    # they run does not change what they compute, so neither is part of the recorded command.
    backend: str = "local"
    address: str | None = None

    def __post_init__(self):
        self.seeds, self.agents = tuple(int(s) for s in self.seeds), tuple(self.agents)
        if not self.agents or set(self.agents) - set(AGENTS):
            raise ValueError(f"agents: a selection of {', '.join(AGENTS)}, got {self.agents!r}")
        self.checkpoint = None if self.checkpoint is None else str(self.checkpoint)
        self.out = str(self.out)
        check_backend(self.backend, self.address)


def agent_config(config: TransferConfig, where: str, seed: int) -> AgentConfig:
    """The agent trained in the dream or on the real simulator for one seed."""
    dream = AgentConfig(
        domain=config.domain,
        checkpoint=config.checkpoint,
        obs_type=config.obs_type,
        algo=config.algo,
        steps=config.steps,
        num_envs=config.num_envs,
        episode_steps=config.episode_steps,
        crash_rule=config.crash_rule,
        physics_blend=config.physics_blend,
        eval_every=0,  # scored once, at the end, on eval_episodes episodes
        eval_episodes=config.eval_episodes,
        seed=seed,
        threads=config.threads,
        out=str(Path(config.out) / f"dream-seed{seed}"),
        quiet=config.quiet,
    )
    if where == "dream":
        return dream
    return replace(dream, real=True, crash_rule=None, physics_blend=1.0, out=str(Path(config.out) / f"real-seed{seed}"))


def run_transfer(config: TransferConfig) -> dict:
    """Train (or reuse) every agent of every seed; the report, also written to transfer.json."""
    out = Path(config.out)
    runs: dict[str, list[dict]] = {where: [] for where in AGENTS if where in config.agents}
    crash_rule = domains.get(config.domain).resolve_crash_rule(config.crash_rule)
    trained = run_jobs(_seed_agents, [(config, seed) for seed in config.seeds], config.backend, config.address)
    for seed, agents in zip(config.seeds, trained, strict=True):
        for where, result in agents.items():
            runs[where].append(result)
        if "random" in config.agents:
            runs["random"].append(_random_run(config, seed, out / f"random-seed{seed}.json"))
    report = {
        "domain": config.domain,
        "steps": config.steps,
        "seeds": list(config.seeds),
        "crash_rule": crash_rule,
        "summary": {where: _summary(rs) for where, rs in runs.items()},
        "runs": runs,
        "config": asdict(config),
        "command": command_line(
            "transfer.py",
            config,
            seeds=["--seeds", ",".join(map(str, config.seeds))],
            agents=["--agents", ",".join(config.agents)],
            crash_rule=crash_rule_flag(config.crash_rule),
            backend=[],
            address=[],
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "transfer.json", report)
    return report


def _seed_agents(config: TransferConfig, seed: int) -> dict[str, dict]:
    """One seed's dream and real agents (trained, or reused when finished): one fan-out job."""
    results = {}
    for where in [w for w in ("dream", "real") if w in config.agents]:
        agent = agent_config(config, where, seed)
        result = finished(agent) or train_agent(agent)
        if where == "dream" and config.correct_rounds:
            result = _corrected(config, agent, result)
        results[where] = result
    return results


def _corrected(config: TransferConfig, agent: AgentConfig, result: dict) -> dict:
    """Rounds of: the latest agent plays real episodes, the heads are refitted on them, a new agent
    is trained from scratch in the corrected dream. The last agent is the dream agent's result; its
    wall-clock and real steps include every round's training, playing and fitting."""
    out = Path(config.out)
    clock, real_steps, rounds = result["train_wall_clock_s"], 0, []
    for r in range(1, config.correct_rounds + 1):
        heads = out / f"heads-seed{agent.seed}-r{r}"
        if not (heads / "correction.json").is_file():
            correct_heads(
                CorrectionConfig(
                    domain=config.domain,
                    checkpoint=agent.checkpoint,  # each round corrects the dream the last agent learned in
                    agent=str(Path(agent.out) / "final.zip"),
                    obs_type=config.obs_type,
                    episodes=config.correct_episodes,
                    episode_steps=config.episode_steps,
                    data=config.correct_data,
                    steps=config.correct_steps,
                    seed=agent.seed,
                    threads=config.threads,
                    out=str(heads),
                    quiet=config.quiet,
                )
            )
        correction = json.loads((heads / "correction.json").read_text())
        agent = replace(agent, checkpoint=str(heads), out=str(out / f"dream-seed{agent.seed}-r{r}"))
        result = finished(agent) or train_agent(agent)
        clock += correction["play_wall_clock_s"] + correction["fit_wall_clock_s"] + result["train_wall_clock_s"]
        real_steps += correction["real_steps"]
        rounds.append(
            {"checkpoint": agent.checkpoint, "real_steps": correction["real_steps"], "real_return": result["real_return"]}
        )
    return {**result, "train_wall_clock_s": clock, "correction": {"rounds": rounds, "real_steps": real_steps}}


def _random_run(config: TransferConfig, seed: int, path: Path) -> dict:
    key = {"seed": seed, "episodes": config.eval_episodes, "episode_steps": config.episode_steps, "checkpoint": config.checkpoint}
    if path.is_file() and json.loads(path.read_text()).get("key") == key:
        return json.loads(path.read_text())["result"]
    venv = real_venv(config.domain, config.checkpoint, config.obs_type, 1, seed + 10_000, config.episode_steps)
    result = {"seed": seed, "real_return": evaluate(RandomAgent(venv, seed), venv, config.eval_episodes)}
    venv.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"key": key, "result": result})
    return result


def _summary(runs: list[dict]) -> dict:
    means = [r["real_return"]["mean"] for r in runs]
    clocks = [r["train_wall_clock_s"] for r in runs if "train_wall_clock_s" in r]
    summary = {
        "real_return_mean": float(np.mean(means)),
        "real_return_std": float(np.std(means)),
        "train_wall_clock_s": float(np.mean(clocks)) if clocks else None,
    }
    if any("correction" in r for r in runs):
        summary["correction_real_steps"] = float(np.mean([r["correction"]["real_steps"] for r in runs]))
    return summary


def format_report(report: dict) -> str:
    s = report["summary"]
    lines = [
        f"{report['domain']}: {report['steps']} env steps per agent, seeds {report['seeds']}, return on the real simulator",
        f"{'agent':<18} {'return':>16} {'train wall-clock':>17}",
    ]
    for where, label in (("dream", "PPO in WorldSim"), ("real", "PPO on simulator"), ("random", "random")):
        if where not in s:
            continue
        clock = s[where]["train_wall_clock_s"]
        lines.append(
            f"{label:<18} {s[where]['real_return_mean']:>8.2f} ± {s[where]['real_return_std']:<5.2f} "
            f"{'-' if clock is None else f'{clock:.0f} s':>17}"
        )
        if "correction_real_steps" in s[where]:
            lines.append(f"  (after head correction on {s[where]['correction_real_steps']:.0f} real steps per agent)")
    dream, real = s.get("dream"), s.get("real")
    if dream and real and real["real_return_mean"] and real["train_wall_clock_s"]:
        lines.append(
            f"dream/real: return {dream['real_return_mean'] / real['real_return_mean']:.0%}, "
            f"wall-clock {dream['train_wall_clock_s'] / real['train_wall_clock_s']:.2f}x"
        )
    return "\n".join(lines)
