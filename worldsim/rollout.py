"""`worldsim rollout`: film a policy in a world model, alone or side by side with the real simulator.

Dream only: the policy acts on the dream's own observations. Side by side: the real simulator
starts from a seed, its first `context` frames become the dream's start, and from then on the
policy acts on the real simulator's observations while the dream receives the very same actions,
so the two halves of the video differ only by what the model got wrong. The policy `behaviour` is
the domain's data-collection policy (`worldsim.behaviour`): it reads the simulator, so it drives
side by side only, and it is how `worldsim dream` shows each world for a whole episode. The dream
is filmed past its own end (an imagined crash) as long as the real episode goes on; the summary
says at which step it ended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from worldsim import domains
from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.video import write_video

ALGOS = ("ppo", "a2c", "dqn", "sac", "td3")
BEHAVIOUR = "behaviour"


@dataclass
class RolloutRequest:
    domain: str | None = None
    checkpoint: str | None = None
    policy: str = "random"  # "random", "behaviour" (side by side only) or the path of a Stable-Baselines3 .zip
    algo: str = "ppo"
    steps: int = 100
    seed: int = 0
    physics_blend: float = 1.0
    side_by_side: bool = False


def rollout_frames(request: RolloutRequest) -> tuple[np.ndarray, dict[str, Any]]:
    """(T, H, W', 3) uint8 frames of the rollout (W' = 2W + 2 side by side) and a summary."""
    if request.steps < 1:
        raise ValueError(f"steps must be at least 1, got {request.steps}")
    if request.policy == BEHAVIOUR and not request.side_by_side:
        raise ValueError("the behaviour policy reads the real simulator: use it side by side")
    obs_type = _policy_obs_type(request.policy, request.algo, request.domain, request.checkpoint)
    env = WorldSimEnv(
        domain=request.domain,
        checkpoint=request.checkpoint,
        obs_type=obs_type,
        physics_blend=request.physics_blend,
        render_mode="rgb_array",
    )
    act = load_policy(request.policy, request.algo, env, request.seed)
    if request.side_by_side:
        frames, summary = _side_by_side(env, act, request)
    else:
        frames, summary = _dream_only(env, act, request)
    env.close()
    return frames, {"domain": env.domain, "policy": request.policy, "obs_type": obs_type, **summary}


def rollout(request: RolloutRequest, out: str | Path) -> dict[str, Any]:
    if Path(out).suffix not in (".mp4", ".gif"):
        raise ValueError(f"{out}: the video must be a .mp4 or .gif file")
    frames, summary = rollout_frames(request)
    path = write_video(out, frames, fps=domains.of_model(summary["domain"]).fps)
    return {**summary, "frames": len(frames), "frame_shape": list(frames.shape[1:]), "video": str(path)}


def load_policy(spec: str, algo: str, env: WorldSimEnv, seed: int) -> Callable[[np.ndarray], Any] | None:
    """`act(observation) -> action`; None for the behaviour policy, which needs the simulator."""
    if spec == BEHAVIOUR:
        return None
    if spec == "random":
        env.action_space.seed(seed)
        return lambda obs: env.action_space.sample()
    model = _load_sb3(spec, algo)
    if model.observation_space.shape != env.observation_space.shape:
        raise ValueError(f"{spec}: the policy observes {model.observation_space}, this environment gives {env.observation_space}")
    return lambda obs: model.predict(obs, deterministic=True)[0]


def _load_sb3(path: str, algo: str):
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; choose one of {', '.join(ALGOS)}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such policy file (give 'random' or a Stable-Baselines3 .zip)")
    import stable_baselines3

    return getattr(stable_baselines3, algo.upper()).load(path, device="cpu")


def _policy_obs_type(spec: str, algo: str, domain: str | None, checkpoint: str | None) -> str:
    """The observation type a policy was trained on, read off its observation space."""
    if spec in ("random", BEHAVIOUR):
        return "pixels"
    shape = tuple(_load_sb3(spec, algo).observation_space.shape)
    probe = WorldSimEnv(domain=domain, checkpoint=checkpoint, obs_type="latent")
    config = probe.model.config
    options = {(config.frame_size, config.frame_size, 3): "pixels", (config.latent_dim,): "latent", (config.state_dim,): "state"}
    if shape not in options:
        raise ValueError(f"{spec}: a policy observing shape {shape} fits none of pixels, latent or state of this model")
    return options[shape]


def _dream_only(env: WorldSimEnv, act, request: RolloutRequest) -> tuple[np.ndarray, dict[str, Any]]:
    obs, _ = env.reset(seed=request.seed)
    frames, total, n, ended = [env.render()], 0.0, 0, "step limit"
    while n < request.steps:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        frames.append(env.render())
        total, n = total + reward, n + 1
        if terminated or truncated:
            ended = "terminated" if terminated else "truncated"
            break
    return np.stack(frames), {"steps": n, "dream_return": total, "ended": ended}


def _side_by_side(env: WorldSimEnv, act, request: RolloutRequest) -> tuple[np.ndarray, dict[str, Any]]:
    from worldsim.behaviour import default_policy
    from worldsim.sources import make_source

    if env.obs_type == "latent":
        raise ValueError(
            "side by side needs a policy that reads pixels or state: a latent policy sees the real "
            "simulator only through the model's encoder"
        )
    source = make_source(env.domain, env.model.config.frame_size)
    try:
        real = source.reset(seed=request.seed)
        if act is None:  # the behaviour policy, seeded like a recorded episode
            behaviour = default_policy(env.domain)
            behaviour.reset(np.random.default_rng(request.seed), source)

            def policy(real):
                return behaviour.act(source, real)
        else:

            def policy(real, act=act):
                return act(_observe(real, env.obs_type))

        frames, actions = [real.frame], []
        for _ in range(env.context_frames - 1):  # the dream's start: real frames under the policy
            actions.append(policy(real))
            real = source.step(actions[-1])
            frames.append(real.frame)
            if real.terminated or real.truncated:  # nothing would be left to compare
                raise ValueError(
                    f"the real {env.domain} episode of seed {request.seed} ended after {len(actions)} step(s), "
                    f"within the {env.context_frames} real frames the dream starts from: try another --seed"
                )
        env.reset(seed=request.seed, options={"context": {"frames": np.stack(frames), "actions": actions}})
        shown = [_pair(real.frame, env.render())]
        totals, n, dream_ended = [0.0, 0.0], 0, None
        while n < request.steps and not (real.terminated or real.truncated):
            action = policy(real)
            real = source.step(action)
            _, reward, terminated, *_ = env.step(action)  # the dream follows the same actions, whatever it predicts
            shown.append(_pair(real.frame, env.render()))
            totals, n = [totals[0] + real.reward, totals[1] + reward], n + 1
            if terminated and dream_ended is None:
                dream_ended = n
    finally:
        source.close()
    ended = "real episode ended" if n < request.steps else "step limit"
    summary = {"steps": n, "real_return": totals[0], "dream_return": totals[1], "ended": ended, "dream_ended_at": dream_ended}
    return np.stack(shown), summary


def _observe(real, obs_type: str) -> np.ndarray:
    return real.frame if obs_type == "pixels" else real.state.astype(np.float32)


def _pair(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    gap = np.full((left.shape[0], 2, 3), 255, np.uint8)
    return np.concatenate([left, gap, right], axis=1)


def add_rollout(commands) -> None:
    p = commands.add_parser("rollout", help="film a policy in a world model (optionally beside the real simulator)")
    p.add_argument("--domain", choices=domains.names(), help="shipped weights of this domain")
    p.add_argument("--checkpoint", help="a trained run instead of the shipped weights")
    p.add_argument(
        "--policy",
        default="random",
        help="'random', 'behaviour' (the domain's data-collection policy; side by side only) or a Stable-Baselines3 .zip",
    )
    p.add_argument("--algo", default="ppo", choices=ALGOS, help="the .zip's algorithm (default ppo)")
    p.add_argument("--steps", type=int, default=100, help="steps at most (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--physics-blend", type=float, default=1.0, help="α in [0, 1] (default 1: learned dynamics)")
    p.add_argument("--side-by-side", action="store_true", help="real simulator | dream, same start and actions")
    p.add_argument("--out", required=True, help="video file, .mp4 or .gif")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_rollout)


def run_rollout(args):
    if not args.domain and not args.checkpoint:
        raise ValueError("give --domain (shipped weights) or --checkpoint")
    request = RolloutRequest(
        domain=args.domain,
        checkpoint=args.checkpoint,
        policy=args.policy,
        algo=args.algo,
        steps=args.steps,
        seed=args.seed,
        physics_blend=args.physics_blend,
        side_by_side=args.side_by_side,
    )
    result = rollout(request, args.out)
    if args.json:
        return result
    returns = ", ".join(f"{k} {result[k]:.2f}" for k in ("real_return", "dream_return") if k in result)
    return f"{result['domain']}: {result['steps']} steps ({result['ended']}), {returns} -> {result['video']}"
