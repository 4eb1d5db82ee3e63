"""Head correction: refit a dream's reward and termination heads on an agent's own real trajectories.

A dream-trained agent steers the dream to states the behaviour data never showed, and there the
reward head pays for nothing. The agent plays episodes on the real simulator, sampling its actions
so the data also cover what it nearly did; the world model's reward and termination heads, and
only they (`worldsim.model.heads`), are refitted on those episodes mixed with windows of the
model's own training data, so that they keep what they knew. Encoder, dynamics and decoder stay
bit-identical: real-simulator observations, and so agents trained on either checkpoint, are
unchanged.

The result is a checkpoint directory usable anywhere a run is: the source's files (less its model
card and evaluation, which describe the old heads), the new weights, and correction.json with the
real steps and the wall-clock the correction spent (an agent trained in the corrected dream has
used those real steps too).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from worldsim.agents.command import command_line
from worldsim.agents.play import play_real
from worldsim.agents.training import load_agent
from worldsim.data.windows import WindowSampler
from worldsim.model.checkpoint import FORMAT, WEIGHTS, load_model, resolve_checkpoint, write_json, write_tensors
from worldsim.model.heads import HeadFit, fit_heads


@dataclass(kw_only=True)
class CorrectionConfig:
    domain: str
    checkpoint: str | None = None  # the world model to correct (None: the shipped weights)
    agent: str  # the SB3 agent (zip) whose trajectories to fit
    obs_type: str = "latent"
    episodes: int = 10  # real episodes the agent plays
    episode_steps: int | None = None
    data: str | None = None  # the model's training data, mixed in (None: data/<domain>)
    own_share: float = 0.5  # share of each batch from the agent's episodes
    steps: int = 600  # head-fitting steps
    batch_size: int = 32
    seed: int = 0
    threads: int | None = None
    out: str  # the new checkpoint directory
    quiet: bool = False

    def __post_init__(self):
        if not 0.0 < self.own_share <= 1.0:
            raise ValueError(f"own_share must lie in (0, 1], got {self.own_share}")
        self.checkpoint = None if self.checkpoint is None else str(self.checkpoint)
        self.agent, self.out = str(self.agent), str(self.out)
        self.data = None if self.data is None else str(self.data)


def correct_heads(config: CorrectionConfig) -> dict:
    """Write the corrected checkpoint to `config.out`; its real steps, wall-clocks and head losses."""
    c = config
    if c.threads:
        torch.set_num_threads(c.threads)
    source = resolve_checkpoint(c.checkpoint or c.domain)
    out = Path(c.out)
    if (out / "correction.json").is_file():
        raise FileExistsError(f"{out} already holds a corrected model; choose another out directory")
    model, _ = load_model(source, domain=c.domain)
    agent = load_agent(c.agent)
    fit = HeadFit(steps=c.steps, batch_size=c.batch_size, seed=c.seed)
    length = fit.context + fit.horizon - 1

    start = time.perf_counter()
    played = play_real(
        agent, c.domain, c.checkpoint, c.obs_type, c.episodes, c.seed + 30_000, c.episode_steps, deterministic=False
    )
    play_s = time.perf_counter() - start
    sources = [(WindowSampler.from_episodes(played, length), c.own_share)]
    if c.own_share < 1.0:
        data = WindowSampler(c.data or f"data/{c.domain}", length, "train", progress=not c.quiet)
        sources.append((data, 1.0 - c.own_share))
    losses = fit_heads(model, sources, fit, progress=not c.quiet)
    fit_s = time.perf_counter() - start - play_s

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    for stale in ("MODEL_CARD.md", "eval.json"):  # they describe the source's heads, not these
        (tmp / stale).unlink(missing_ok=True)
    write_tensors(tmp / WEIGHTS, model.state_dict(), metadata={"format": FORMAT})
    real_steps = int(sum(len(e) for e in played))
    write_json(
        tmp / "correction.json",
        {
            "source": str(source),
            "agent": c.agent,
            "episodes": c.episodes,
            "real_steps": real_steps,
            "own_share": c.own_share,
            "fit": vars(fit),
            "losses": losses,
            "play_wall_clock_s": play_s,
            "fit_wall_clock_s": fit_s,
            "agent_real_return": float(np.mean([e.rewards.sum() for e in played])),
            "config": asdict(c),
            "command": command_line("correct_heads.py", c),
        },
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {"out": str(out), "real_steps": real_steps, "play_wall_clock_s": play_s, "fit_wall_clock_s": fit_s, **losses}
