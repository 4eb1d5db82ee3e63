"""Correct the dream's rewards where an agent goes: refit the heads on its own real trajectories.

    python agents/correct_heads.py --domain games --agent runs/transfer/games-20k/dream-seed0/final.zip \\
        --episodes 10 --out runs/heads/games

`agents/diagnose.py` shows the failure this answers: the dream-trained agent steers the dream to
states the behaviour data never showed, and there the reward head pays for nothing. The agent plays
--episodes episodes on the real simulator, sampling its actions so the data also cover what it
nearly did; the world model's reward and termination heads, and only they
(`worldsim.model.heads`), are refitted on those episodes mixed with windows of the model's own
training data (--data, --own-share of each batch from the agent) so that they keep what they knew.
Encoder, dynamics and decoder stay bit-identical: real-simulator observations, and so agents
trained on either checkpoint, are unchanged.

Writes a checkpoint directory usable anywhere a run is (`--checkpoint`): the source's files (less
its model card and evaluation, which describe the old heads), the new weights, and correction.json
with the real steps and the wall-clock the correction spent (an agent trained in the corrected
dream has used those real steps too).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import play_real, write_json  # noqa: E402
from diagnose import load_agents  # noqa: E402

from worldsim.data.windows import WindowSampler  # noqa: E402
from worldsim.model.checkpoint import FORMAT, WEIGHTS, load_model, resolve_checkpoint, write_tensors  # noqa: E402
from worldsim.model.heads import HeadFit, fit_heads  # noqa: E402


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=["driving", "robotics", "games"])
    p.add_argument("--checkpoint", help="world model to correct (default: the shipped weights)")
    p.add_argument("--agent", required=True, help="the SB3 agent (zip) whose trajectories to fit")
    p.add_argument("--obs-type", default="latent", choices=["pixels", "latent", "state"])
    p.add_argument("--episodes", type=int, default=10, help="real episodes the agent plays (default 10)")
    p.add_argument("--episode-steps", type=int)
    p.add_argument("--data", help="the model's training data, mixed in (default: data/<domain>)")
    p.add_argument("--own-share", type=float, default=0.5, help="share of each batch from the agent's episodes")
    p.add_argument("--steps", type=int, default=600, help="head-fitting steps (default 600)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("--out", required=True, help="new checkpoint directory")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    if not 0.0 < args.own_share <= 1.0:
        raise ValueError(f"--own-share must lie in (0, 1], got {args.own_share}")
    if args.threads:
        torch.set_num_threads(args.threads)
    source = resolve_checkpoint(args.checkpoint or args.domain)
    out = Path(args.out)
    if (out / "correction.json").is_file():
        raise FileExistsError(f"{out} already holds a corrected model; choose another --out")
    model, _ = load_model(source, domain=args.domain)
    agent = next(iter(load_agents([f"agent={args.agent}"]).values()))
    fit = HeadFit(steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    length = fit.context + fit.horizon - 1

    start = time.perf_counter()
    played = play_real(
        agent,
        args.domain,
        args.checkpoint,
        args.obs_type,
        args.episodes,
        args.seed + 30_000,
        args.episode_steps,
        deterministic=False,
    )
    play_s = time.perf_counter() - start
    sources = [(WindowSampler.from_episodes(played, length), args.own_share)]
    if args.own_share < 1.0:
        data = WindowSampler(args.data or f"data/{args.domain}", length, "train", progress=not args.quiet)
        sources.append((data, 1.0 - args.own_share))
    losses = fit_heads(model, sources, fit, progress=not args.quiet)
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
            "agent": args.agent,
            "episodes": args.episodes,
            "real_steps": real_steps,
            "own_share": args.own_share,
            "fit": vars(fit),
            "losses": losses,
            "play_wall_clock_s": play_s,
            "fit_wall_clock_s": fit_s,
            "agent_real_return": float(np.mean([e.rewards.sum() for e in played])),
            "command": "python agents/correct_heads.py " + " ".join(sys.argv[1:] if argv is None else argv),
        },
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {"out": str(out), "real_steps": real_steps, "play_wall_clock_s": play_s, "fit_wall_clock_s": fit_s, **losses}


if __name__ == "__main__":
    r = main()
    print(
        f"corrected heads written to {r['out']}: {r['real_steps']} real steps ({r['play_wall_clock_s']:.0f} s), "
        f"fit {r['fit_wall_clock_s']:.0f} s, head loss {r['loss_first']:.3f} -> {r['loss_last']:.3f}"
    )
