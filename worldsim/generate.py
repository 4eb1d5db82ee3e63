"""`worldsim generate "PROMPT"`: scenes from words, written out to look at.

For each seed: the generated start frame (PNG), a short rollout of the dream from it with the
no-op action (the scene left to itself: MP4; PushT has no no-op key, so its agent is held at its
own position), and in one JSON the prompt as parsed, what the text
model understood, each seed's generated physical state, whether every asked attribute holds and
the step the dream ended the rollout on (a crash), if it did. `--variety` scales the generator's code.
With `--search best_of_n --samples K` each seed's scene is the verifier's best of K.
Goes through the env's own `reset(options={"prompt": ...})`, so it shows what an agent would get.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from worldsim.search import METHODS, VERIFIERS


def generate(
    prompt: str,
    out: str | Path,
    domain: str | None,
    checkpoint: str | None,
    seeds: int,
    steps: int,
    search: dict[str, Any] | None = None,
    variety: float = 1.0,
) -> dict[str, Any]:
    import imageio.v3 as iio

    from worldsim.envs.keys import calm_action
    from worldsim.envs.world_sim_env import WorldSimEnv
    from worldsim.video import write_video

    if seeds < 1 or steps < 0:
        raise ValueError(f"--seeds must be at least 1 and --steps at least 0, got {seeds} and {steps}")
    env = WorldSimEnv(domain=domain, checkpoint=checkpoint, obs_type="pixels")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scenes = []
    for seed in range(seeds):
        options = {"prompt": prompt, **({"search": search} if search else {}), **({"variety": variety} if variety != 1 else {})}
        frame, info = env.reset(seed=seed, options=options)
        calm, frames = calm_action(env.domain, env.model.config.state_fields, info["state"])[0], [frame]
        ended = None
        for t in range(steps):
            frame, _, terminated, truncated, _ = env.step(calm)
            frames.append(frame)
            if terminated or truncated:
                ended = t + 1 if terminated else None
                break
        start = out / f"seed{seed}.png"
        tmp = out / f".seed{seed}.tmp.png"
        iio.imwrite(tmp, np.kron(frames[0], np.ones((4, 4, 1), np.uint8)))
        os.replace(tmp, start)
        video = write_video(out / f"seed{seed}.mp4", np.stack(frames), env.metadata["render_fps"]) if steps else None
        match = info["prompt_match"]
        scenes.append(
            {
                "seed": seed,
                "start_frame": str(start),
                "video": str(video) if video else None,
                "state": dict(zip(env.model.config.state_fields, map(float, info["state"]), strict=True)),
                "attributes": match["attributes"],
                "all_hold": match["all_hold"],
                "feasible": match["feasible"],
                "ended_at_step": ended,  # the dream ended the scene left to itself here (None: it ran on)
                **({"search": match["search"]} if search else {}),
            }
        )
    report = {
        "prompt": prompt,
        "domain": env.domain,
        "checkpoint": str(env.checkpoint),
        "ignored": match["ignored"],
        "asked": {name: a["asked"] for name, a in match["attributes"].items()},
        "understood": {name: a["understood"] for name, a in match["attributes"].items()},
        "all_hold": sum(s["all_hold"] for s in scenes) / len(scenes),
        "scenes": scenes,
    }
    tmp = out / ".scenes.tmp.json"
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, out / "scenes.json")
    return report


def add_generate(commands) -> None:
    p = commands.add_parser("generate", help="generate start scenes from a text prompt: frames, rollout videos, JSON")
    p.add_argument("prompt", help='what the scene should hold, e.g. "the T block upside down near the top-left corner"')
    p.add_argument("--domain", help="a built-in domain (its shipped weights and text model)")
    p.add_argument("--checkpoint", help="a model directory holding a text model (`worldsim train-text --out` into it)")
    p.add_argument("--seeds", type=int, default=4, help="scenes to generate, seeds 0..N-1 (default 4)")
    p.add_argument("--steps", type=int, default=30, help="steps of the no-op rollout in each video (default 30; 0: none)")
    p.add_argument(
        "--variety",
        type=float,
        default=1.0,
        help="scale of the generator's code: above 1 spreads the seeds' scenes further apart, "
        "at some cost to how often the words hold (default 1)",
    )
    p.add_argument("--search", choices=METHODS, help="keep the verifier's best of --samples scenes per seed")
    p.add_argument("--samples", type=int, default=8, help="--search: candidate scenes per seed (default 8)")
    p.add_argument(
        "--verifier", choices=VERIFIERS, default="state", help="--search: grade the generated state or the drawn frame"
    )
    p.add_argument("--out", required=True, help="directory for seedK.png, seedK.mp4 and scenes.json")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_generate)


def run_generate(args):
    search = {"method": args.search, "samples": args.samples, "verifier": args.verifier} if args.search else None
    report = generate(args.prompt, args.out, args.domain, args.checkpoint, args.seeds, args.steps, search, args.variety)
    if args.json:
        return report
    lines = [f"{len(report['scenes'])} scenes of {report['domain']!r} from {report['prompt']!r} in {args.out}"]
    for name, asked in report["asked"].items():
        held = sum(s["attributes"][name]["holds"] for s in report["scenes"])
        lines.append(
            f"  {name}: asked {asked!r}, understood {report['understood'][name]!r}, holds in {held}/{len(report['scenes'])}"
        )
    if report["ignored"]:
        lines.append(f"  ignored words: {', '.join(report['ignored'])}")
    if search:
        lines.append(f"each scene the verifier's best of {args.samples} ({args.search})")
    lines.append(f"every asked attribute holds in {report['all_hold']:.0%} of the scenes")
    crashed = [s["seed"] for s in report["scenes"] if not s["feasible"]]
    if crashed:  # no real scene starts so
        lines.append(
            f"seeds {crashed} start where no scene can (driving: a car on the ego, or two stacked in a lane); "
            "--search best_of_n --samples 8 ranks such starts last"
        )
    early = [f"{s['seed']} (step {s['ended_at_step']})" for s in report["scenes"] if s["ended_at_step"] is not None]
    if early:
        lines.append(f"the dream ended the rollouts of seeds {', '.join(early)}")
    return "\n".join(lines)
