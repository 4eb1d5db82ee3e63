"""Controllability: does the dream answer to actions as the simulator does?

From `starts` real starts (the source reset with seed `seed + i`, then `context` frames of the
domain's behaviour policy, as scenario starts are made; a seed whose episode ends within the context
is skipped), each of the domain's scripted programs (`DomainSpec.programs`, see
`worldsim.behaviour.programs`) is played with the same actions in the simulator and in the dream.

The simulator is branched at the start with `Source.branch()` where the source has one (driving: a
deep copy of highway-env), and otherwise re-created by resetting with the start's seed and
replaying its context actions (PushT's pymunk space and CarRacing's Box2D world cannot be copied;
both replay exactly, and the largest state mismatch of the replays is reported). The dream filters
the start's context frames (`WorldModel.encode`) and imagines the program (`WorldModel.imagine`).

A program's response is read at every step off a physical state ("reading"):
- simulator: the simulator's true state;
- dream: the model's state head on the imagined latents;
- dream_probe, simulator_probe (with a frame probe, frames -> states such as `StateProbe.predict`):
  the probe on the dream's drawn frames, and on the simulator's frames (the probe's own floor).
Each reading is taken relative to its own start (the dream's state head at the filtered start, not
the true state), so a biased head or probe is not read as a response. Per program and reading:
- curve: the mean response over starts at each step (step 0 is the start, where it is 0), and
  curves: each start's;
- change: per start, the response's change from the program's `judged_from` step to its end;
- sign_agreement: the share of starts where the change has the simulator's sign, a change within
  the program's dead-band (|change| < dead_band) counting as 0, so a tiny drift is no sign;
- size_ratio: the median of change / the simulator's change, over the starts where the simulator's
  change is outside the dead-band (None where there is none); 1 is the simulator's size.
The simulator's `expected_sign_share` is the share of starts where the simulator itself has the
program's documented sign: a check of the table, not of the model. `sign_agreement` at the top
pools every program's starts for the state head (and `sign_agreement_by_reading` for every reading).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from worldsim import domains
from worldsim.behaviour import default_policy
from worldsim.behaviour.programs import Program, State
from worldsim.model.world_model import WorldModel
from worldsim.sources import Source, make_source

Probe = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 frames -> (N, S) states, the model's fields


@dataclass
class ControllabilityConfig:
    context: int = 4  # real frames filtered before the program starts
    seed: int = 0  # start i is reset with seed + i; also seeds the dream's noise
    programs: tuple[str, ...] = ()  # the programs run, by name; empty: all of the domain's
    physics_blend: float = 1.0
    attempts: int = 3  # seeds tried per start wanted, at most


@dataclass
class Start:
    seed: int
    frames: np.ndarray  # (context, H, W, 3) uint8
    actions: np.ndarray  # (context - 1, ...)
    state: State  # the physical state at the start, the source's fields


@torch.no_grad()
def controllability(
    model: WorldModel,
    starts: int = 20,
    config: ControllabilityConfig | None = None,
    *,
    source: Callable[[], Source] | None = None,
    programs: Sequence[Program] | None = None,
    probe: Probe | None = None,
    palette: torch.Tensor | None = None,
) -> dict[str, Any]:
    """The controllability report of `model` (see the module docstring). `source` makes the
    simulator (default: the model's domain at its frame size); `programs` default to the domain's."""
    config = config or ControllabilityConfig()
    if starts < 1 or config.context < 1:
        raise ValueError(f"controllability needs starts >= 1 and context >= 1, got {starts} and {config.context}")
    if programs is None:
        programs = domains.of_model(model.config.domain).load("programs")
    programs = select_programs(programs, config.programs)
    if not model.config.state_dim and probe is None:
        raise ValueError("the model has no physical state to read responses off; pass a frame probe")
    sim = source() if source is not None else make_source(model.config.domain, model.config.frame_size)
    try:
        chosen, runs, branching, mismatch = simulate_programs(sim, programs, starts, config)
    finally:
        sim.close()
    dreams = _dream(model, chosen, programs, config, probe, palette)

    sim_names = [f.name for f in sim.state_fields]
    report_programs, pooled = {}, {}
    for program, run, dream in zip(programs, runs, dreams, strict=True):
        readings = {"simulator": (run["states"], sim_names), **dream}
        if probe is not None:
            readings["simulator_probe"] = (_probe(probe, run["frames"]), list(model.config.state_fields))
        curves = {name: _curves(program, chosen, states, names) for name, (states, names) in readings.items()}
        changes = {name: c[:, -1] - c[:, program.judged_from] for name, c in curves.items()}
        real = changes["simulator"]
        entry: dict[str, Any] = {
            "what": program.what,
            "steps": program.steps,
            "judged_from": program.judged_from,
            "sign": program.sign,
            "dead_band": program.dead_band,
        }
        for name, change in changes.items():
            entry[name] = {
                "curve": _floats(curves[name].mean(0)),
                "curves": [_floats(c) for c in curves[name]],
                "change": _floats(change),
            }
            if name == "simulator":
                entry[name]["expected_sign_share"] = float(np.mean(_sign(real, program.dead_band) == program.sign))
                entry[name]["ended"] = int(run["ended"].sum())
                continue
            agree = _sign(change, program.dead_band) == _sign(real, program.dead_band)
            pooled.setdefault(name, []).append(agree)
            moving = np.abs(real) >= program.dead_band
            entry[name]["sign_agreement"] = float(agree.mean())
            entry[name]["size_ratio"] = float(np.median(change[moving] / real[moving])) if moving.any() else None
        report_programs[program.name] = entry

    by_reading = {name: float(np.concatenate(agree).mean()) for name, agree in pooled.items()}
    return {
        "domain": model.config.domain,
        "starts": len(chosen),
        "seeds": [s.seed for s in chosen],
        "branching": branching,
        "replay_mismatch": mismatch,
        "dead_band": "a change with |change| < the program's dead_band counts as no change (sign 0)",
        "config": asdict(config),
        "programs": report_programs,
        "sign_agreement": by_reading.get("dream"),
        "sign_agreement_by_reading": by_reading,
    }


def select_programs(programs: Sequence[Program], names: Sequence[str]) -> list[Program]:
    """The programs named, in that order (all of them for no names); an unknown name is an error."""
    if not names:
        return list(programs)
    known = {p.name: p for p in programs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown program(s) {', '.join(map(repr, unknown))}; choose from {', '.join(known)}")
    return [known[n] for n in names]


def simulate_programs(source: Source, programs: list[Program], starts: int, config: ControllabilityConfig):
    """The starts and, per program, every start's run in the simulator: states (B, K+1, S), frames
    (B, K+1, H, W, 3) and ended (B,). Also how the start was branched and the replays' mismatch."""
    names = [f.name for f in source.state_fields]
    branchable = callable(getattr(source, "branch", None))
    chosen: list[Start] = []
    runs = [{"states": [], "frames": [], "ended": []} for _ in programs]
    mismatch = 0.0
    for i in range(starts * config.attempts):
        if len(chosen) == starts:
            break
        start = _start(source, config.seed + i, config.context, names)
        if start is None:
            continue
        chosen.append(start)
        for j, program in enumerate(programs):
            # Branches are taken while the source still stands at the start; the last program runs
            # on the source itself. Without branching the first does, and the others replay the start.
            if branchable:
                sim = source if j == len(programs) - 1 else source.branch()
            elif j == 0:
                sim = source
            else:
                sim = source
                _replay(source, start)
                mismatch = max(mismatch, float(np.abs(source.last.state - start.state.values).max()))
            try:
                states, frames, ended = _play(sim, program.actions(start.state))
            finally:
                if sim is not source:
                    sim.close()
            for key, value in zip(("states", "frames", "ended"), (states, frames, ended), strict=True):
                runs[j][key].append(value)
    if len(chosen) < starts:
        raise ValueError(f"only {len(chosen)} of {starts} starts: the other seeds' episodes ended within {config.context} frames")
    runs = [{key: np.stack(values) for key, values in run.items()} for run in runs]
    return chosen, runs, "branch" if branchable else "replay", None if branchable else mismatch


def _start(source: Source, seed: int, context: int, names: list[str]) -> Start | None:
    """`context` frames of the behaviour policy from a reset with `seed`; None if the episode ends."""
    obs = source.reset(seed=seed)
    policy = default_policy(source.domain)
    policy.reset(np.random.default_rng(seed), source)
    frames, actions = [obs.frame], []
    for _ in range(context - 1):
        action = policy.act(source, obs)
        obs = source.step(action)
        actions.append(np.asarray(action))
        frames.append(obs.frame)
        if obs.terminated or obs.truncated:
            return None
    past = np.asarray(actions).reshape(len(actions), *source.action_space.shape)
    return Start(seed, np.stack(frames), past, State.of(obs.state, names))


def _replay(source: Source, start: Start) -> None:
    source.reset(seed=start.seed)
    for action in start.actions:
        source.step(action)


def _play(source: Source, actions: list) -> tuple[np.ndarray, np.ndarray, bool]:
    """States and frames at the start and after each action; once the episode ends, the last is held."""
    states, frames, ended = [source.last.state], [source.last.frame], False
    for action in actions:
        if not ended:
            obs = source.step(action)
            ended = obs.terminated or obs.truncated
        states.append(source.last.state)
        frames.append(source.last.frame)
    return np.stack(states), np.stack(frames), ended


def _dream(model, starts: list[Start], programs: list[Program], config, probe, palette) -> list[dict]:
    """Per program, the dream's readings {name: ((B, K+1, S), field names)}, step 0 the start."""
    names = list(model.config.state_fields)
    frames = torch.from_numpy(np.stack([s.frames for s in starts]))
    past = torch.from_numpy(np.stack([s.actions for s in starts])) if config.context > 1 else None
    latent = model.encode(frames, past)
    start_head = model.physical_state(latent).cpu().numpy()
    dtype = np.int64 if model.config.discrete else np.float32
    out = []
    for program in programs:
        actions = torch.from_numpy(np.stack([np.asarray(program.actions(s.state), dtype=dtype) for s in starts]))
        # Each program's dream noise is drawn from the same seed: reports do not depend on the programs chosen.
        rollout = model.imagine(
            latent,
            actions,
            previous=model.frames_in(frames[:, -1]) if probe is not None else None,
            generator=torch.Generator().manual_seed(config.seed),
            physics_blend=config.physics_blend,
            palette=palette if probe is not None else None,
        )
        readings = {}
        if names:
            readings["dream"] = (np.concatenate([start_head[:, None], rollout.states.cpu().numpy()], 1), names)
        if probe is not None:
            drawn = np.concatenate([frames[:, -1:].numpy(), rollout.pixels().cpu().numpy()], 1)
            readings["dream_probe"] = (_probe(probe, drawn), names)
        out.append(readings)
    return out


def _probe(probe: Probe, frames: np.ndarray) -> np.ndarray:
    """(B, K, H, W, 3) frames -> (B, K, S) states read off them."""
    states = np.asarray(probe(frames.reshape(-1, *frames.shape[2:])))
    return states.reshape(*frames.shape[:2], -1)


def _curves(program: Program, starts: list[Start], states: np.ndarray, names: list[str]) -> np.ndarray:
    """(B, K+1): each start's response at every step, relative to the reading's own start."""
    index = {n: i for i, n in enumerate(names)}
    curves = np.array(
        [
            [program.response(start.state, State(np.asarray(s, np.float64), index)) for s in run]
            for start, run in zip(starts, states, strict=True)
        ]
    )
    return curves - curves[:, :1]


def _sign(change: np.ndarray, dead_band: float) -> np.ndarray:
    return np.where(np.abs(change) < dead_band, 0, np.sign(change)).astype(int)


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def format_controllability_report(report: dict[str, Any]) -> str:
    lines = [
        f"controllability: {report['starts']} real starts (seeds {report['seeds'][0]}..{report['seeds'][-1]}), "
        f"simulator branched by {report['branching']}"
    ]
    probe = "dream_probe" in report["sign_agreement_by_reading"]
    header = f"{'program':>16} {'sign':>5} {'sim Δ':>8} {'sim ok':>7} {'dream Δ':>8} {'agree':>6} {'size':>6}"
    lines.append(header + (f" {'probe Δ':>8} {'agree':>6} {'size':>6}" if probe else ""))
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for name, p in report["programs"].items():
        sim = p["simulator"]
        row = f"{name:>16} {p['sign']:>+5d} {np.mean(sim['change']):>8.2f} {sim['expected_sign_share']:>7.2f}"
        for reading in ("dream", "dream_probe") if probe else ("dream",):
            r = p.get(reading)
            row += " " + (
                f"{np.mean(r['change']):>8.2f} {fmt(r['sign_agreement']):>6} {fmt(r['size_ratio']):>6}"
                if r
                else f"{'-':>8} {'-':>6} {'-':>6}"
            )
        lines.append(row)
    overall = ", ".join(f"{k} {v:.2f}" for k, v in report["sign_agreement_by_reading"].items())
    lines.append(f"sign agreement over all programs and starts: {overall}")
    lines.append(
        "(Δ: mean change from the program's judged step to its end, in the field's units; sim ok: share of starts with "
        "the documented sign;\n agree: share of starts with the simulator's sign, |Δ| under the dead-band counting as 0; "
        "size: median dream Δ / sim Δ)"
    )
    return "\n".join(lines)
