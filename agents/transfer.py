"""The transfer experiment: is an agent trained only in the dream as good on the real simulator?

    python agents/transfer.py --domain driving --steps 20000 --seeds 0,1,2 --out runs/transfer/driving

For each seed, at one budget of N environment steps: (a) the agent trained in WorldSim only, (b) the
same agent trained on the real simulator (observed through the same encoder), (c) a random policy;
all evaluated on the real simulator. Reports mean ± std of the real-simulator return over seeds and
the training wall-clock of (a) and (b), real-simulator evaluations excluded; --json for the full
record (each run's result.json too). Rerunning the same command resumes: agents that finished are
read back from their result.json, so a killed experiment loses only the agent it was training.

With --correct-rounds R, each dream agent plays --correct-episodes real episodes, the dream's reward
and termination heads are refitted on them (agents/correct_heads.py; nothing else in the model
changes) and a new agent is trained from scratch in the corrected dream, R times. The agent still
learns only in the dream, but the dream has now seen real steps: they are reported with it, and
their wall-clock (playing, fitting and every round's training) is counted in its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train as train_script  # noqa: E402
from common import action_space, evaluate, needs_rescaling, real_venv, write_json  # noqa: E402

from worldsim import domains  # noqa: E402


class RandomAgent:
    def __init__(self, venv, seed: int):
        self.space = venv.action_space
        self.space.seed(seed)
        self.n = venv.num_envs

    def predict(self, obs, deterministic: bool = True):
        return np.stack([self.space.sample() for _ in range(self.n)]), None


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=["driving", "robotics", "games"])
    p.add_argument("--checkpoint", help="world model run (default: the shipped weights)")
    p.add_argument("--obs-type", default="latent", choices=["pixels", "latent", "state"])
    p.add_argument("--algo", default="ppo", choices=["ppo", "sac"])
    p.add_argument("--steps", type=int, default=20_000, help="environment steps per agent (default 20k)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--episode-steps", type=int)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--agents", default="dream,real,random", help="which of dream, real, random to run (default all)")
    p.add_argument(
        "--no-crash-rule",
        dest="crash_rule",
        action="store_false",
        default=None,
        help="driving dreams end on the termination head alone (the ablation; worldsim/envs/crash.py)",
    )
    p.add_argument(
        "--correct-rounds",
        type=int,
        default=0,
        help="rounds of head correction for each dream agent (agents/correct_heads.py; default 0)",
    )
    p.add_argument("--correct-episodes", type=int, default=10, help="real episodes the agent plays per round")
    p.add_argument("--correct-steps", type=int, default=300, help="head-fitting steps per round")
    p.add_argument("--correct-data", help="the model's training data, mixed into head fitting (default: data/<domain>)")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, help="torch threads per run (default: torch's own choice)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    agents = [a.strip() for a in args.agents.split(",")]
    if not agents or set(agents) - {"dream", "real", "random"}:
        raise ValueError(f"--agents takes a comma list of dream, real, random; got {args.agents!r}")
    out = Path(args.out)
    runs = {where: [] for where in ("dream", "real", "random") if where in agents}
    crash_rule = domains.get(args.domain).resolve_crash_rule(args.crash_rule)
    rescaled = needs_rescaling(action_space(args.domain, args.checkpoint))
    for seed in seeds:
        for where in [w for w in ("dream", "real") if w in agents]:
            run_argv = [
                "--domain",
                args.domain,
                "--obs-type",
                args.obs_type,
                "--algo",
                args.algo,
                "--steps",
                str(args.steps),
                "--num-envs",
                str(args.num_envs),
                "--eval-every",
                "0",
                "--eval-episodes",
                str(args.eval_episodes),
                "--seed",
                str(seed),
                "--out",
                str(out / f"{where}-seed{seed}"),
            ]
            run_argv += (["--checkpoint", args.checkpoint] if args.checkpoint else []) + (["--real"] if where == "real" else [])
            run_argv += ["--episode-steps", str(args.episode_steps)] if args.episode_steps else []
            run_argv += (["--threads", str(args.threads)] if args.threads else []) + (["--quiet"] if args.quiet else [])
            run_argv += ["--no-crash-rule"] if where == "dream" and args.crash_rule is False else []
            expected = crash_rule if where == "dream" else None
            result = _finished(out / f"{where}-seed{seed}", run_argv, expected, rescaled) or train_script.main(run_argv)
            if where == "dream" and args.correct_rounds:
                result = _corrected(args, seed, run_argv, result, expected, rescaled, out)
            runs[where].append(result)
        if "random" in agents:
            runs["random"].append(_random_run(args, seed, out / f"random-seed{seed}.json"))
    summary = {where: _summary(rs) for where, rs in runs.items()}
    report = {
        "domain": args.domain,
        "steps": args.steps,
        "seeds": seeds,
        "crash_rule": crash_rule,
        "summary": summary,
        "runs": runs,
        "command": "python agents/transfer.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "transfer.json", report)
    return report


def _corrected(args, seed: int, run_argv: list[str], result: dict, crash_rule: bool | None, rescaled: bool, out: Path) -> dict:
    """Rounds of: the latest agent plays real episodes, the heads are refitted on them, a new agent
    is trained from scratch in the corrected dream. The last agent is the dream agent's result; its
    wall-clock and real steps include every round's training, playing and fitting."""
    import correct_heads

    checkpoint, agent_dir = args.checkpoint, out / f"dream-seed{seed}"
    clock, real_steps, rounds = result["train_wall_clock_s"], 0, []
    for r in range(1, args.correct_rounds + 1):
        heads = out / f"heads-seed{seed}-r{r}"
        if not (heads / "correction.json").is_file():
            correct_heads.main(
                [
                    "--domain",
                    args.domain,
                    "--agent",
                    str(agent_dir / "final.zip"),
                    "--obs-type",
                    args.obs_type,
                    "--episodes",
                    str(args.correct_episodes),
                    "--steps",
                    str(args.correct_steps),
                    "--seed",
                    str(seed),
                    "--out",
                    str(heads),
                ]
                + (["--checkpoint", checkpoint] if checkpoint else [])
                + (["--episode-steps", str(args.episode_steps)] if args.episode_steps else [])
                + (["--data", args.correct_data] if args.correct_data else [])
                + (["--threads", str(args.threads)] if args.threads else [])
                + (["--quiet"] if args.quiet else [])
            )
        correction = json.loads((heads / "correction.json").read_text())
        checkpoint, agent_dir = str(heads), out / f"dream-seed{seed}-r{r}"
        round_argv = _with(run_argv, "--out", str(agent_dir))
        round_argv = _with(round_argv, "--checkpoint", checkpoint)
        result = _finished(agent_dir, round_argv, crash_rule, rescaled) or train_script.main(round_argv)
        clock += correction["play_wall_clock_s"] + correction["fit_wall_clock_s"] + result["train_wall_clock_s"]
        real_steps += correction["real_steps"]
        rounds.append({"checkpoint": checkpoint, "real_steps": correction["real_steps"], "real_return": result["real_return"]})
    return {**result, "train_wall_clock_s": clock, "correction": {"rounds": rounds, "real_steps": real_steps}}


def _with(argv: list[str], option: str, value: str) -> list[str]:
    """argv with `option` set to `value` (replaced where present, appended where not)."""
    if option in argv:
        i = argv.index(option)
        return [*argv[: i + 1], value, *argv[i + 2 :]]
    return [*argv, option, value]


def _finished(run_dir: Path, run_argv: list[str], crash_rule: bool | None, rescaled: bool) -> dict | None:
    """The result of an identical run that already finished (a rerun of a killed experiment
    resumes at the first unfinished agent); None when it must be trained. Options that change
    nothing trained (--quiet, --threads, --eval-every) are ignored; the dream's crash rule and the
    agent's action units are compared too, since their defaults may differ from those the run was
    trained under."""
    path = run_dir / "result.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    recorded = result.get("command", "").removeprefix("python agents/train.py ").split()
    same = _what_trains(recorded) == _what_trains(run_argv) and result.get("crash_rule") == crash_rule
    return result if same and result.get("rescaled_actions", False) == rescaled else None


def _what_trains(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for arg in argv:
        if skip or arg == "--quiet":
            skip = False
            continue
        if arg in ("--threads", "--eval-every"):
            skip = True
            continue
        kept.append(arg)
    return kept


def _random_run(args: argparse.Namespace, seed: int, path: Path) -> dict:
    key = {"seed": seed, "episodes": args.eval_episodes, "episode_steps": args.episode_steps, "checkpoint": args.checkpoint}
    if path.is_file() and json.loads(path.read_text()).get("key") == key:
        return json.loads(path.read_text())["result"]
    venv = real_venv(args.domain, args.checkpoint, args.obs_type, 1, seed + 10_000, args.episode_steps)
    result = {"seed": seed, "real_return": evaluate(RandomAgent(venv, seed), venv, args.eval_episodes)}
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


if __name__ == "__main__":
    args_json = "--json" in sys.argv
    result = main()
    print(json.dumps(result, indent=2) if args_json else format_report(result))
