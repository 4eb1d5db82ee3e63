"""`worldsim collect` and `worldsim dataset`."""

from __future__ import annotations

import json
import sys

from worldsim import domains
from worldsim.data import CollectRequest, Dataset, collect
from worldsim.data.collect import styled_policy
from worldsim.fanout import add_backend_arguments
from worldsim.scenario import load_scenario


def add_collect(commands) -> None:
    p = commands.add_parser("collect", help="record episodes of a real simulator into a dataset directory")
    p.add_argument("--domain", choices=[*domains.names(), domains.GENERIC.name], help="default: the scenario's domain")
    p.add_argument("--env-id", help="Gymnasium id for --domain any (e.g. CartPole-v1)")
    p.add_argument("--scenario", help="scenario name (e.g. cut_in) or YAML file")
    p.add_argument(
        "--env-config",
        help="driving only: highway-env config overrides as JSON, e.g. '{\"duration\": 80}' for longer episodes",
    )
    p.add_argument("--episodes", type=int, required=True, help="total episodes the dataset should hold")
    p.add_argument("--max-steps", type=int, help="steps per episode at most (default: per domain or scenario)")
    p.add_argument(
        "--workers", type=int, default=1, help="parallel simulator processes, or Ray CPUs of a local runtime (default 1)"
    )
    add_backend_arguments(p, "local worker processes")
    p.add_argument("--seed", type=int, default=0, help="dataset seed; episode i is seeded from (seed, i)")
    p.add_argument(
        "--styles",
        help="behaviour style weights as JSON instead of the domain's default mix, "
        'e.g. \'{"clean": 0.25, "wander": 0.2}\' for games (the styles are in worldsim/behaviour/)',
    )
    p.add_argument("--frame-size", type=int, default=64, help="square frame side in pixels (default 64)")
    p.add_argument("--out", required=True, help="dataset directory (rerun the same command to resume)")
    p.add_argument("--json", action="store_true", help="print the dataset summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_collect)


def run_collect(args):
    scenario = load_scenario(args.scenario) if args.scenario else None
    domain = args.domain or (scenario.domain if scenario else None)
    if domain is None:
        raise ValueError("give --domain, or a --scenario to take it from")
    if domain == "any" and not args.env_id:
        raise ValueError("--domain any needs --env-id")
    if args.env_id and domain != "any":
        raise ValueError("--env-id is only for --domain any")
    options: dict = {"env_id": args.env_id} if args.env_id else {}
    if args.env_config:
        if domain != "driving":
            raise ValueError("--env-config is for --domain driving (highway-env's config)")
        try:
            options["config"] = json.loads(args.env_config)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--env-config is not valid JSON: {exc}") from None
        if not isinstance(options["config"], dict):
            raise ValueError("--env-config must be a JSON object")
    styles = {}
    if args.styles:
        try:
            styles = json.loads(args.styles)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--styles is not valid JSON: {exc}") from None
        if not isinstance(styles, dict):
            raise ValueError("--styles must be a JSON object of style: weight")
        styled_policy(domain, styles)  # a bad name or weight fails now, not in a worker
    max_steps = args.max_steps or (
        scenario.max_steps if scenario and scenario.max_steps else domains.of_model(domain).episode_steps
    )
    request = CollectRequest(
        domain=domain,
        out=args.out,
        episodes=args.episodes,
        max_steps=max_steps,
        seed=args.seed,
        scenario=str(scenario.path) if scenario else None,
        frame_size=args.frame_size,
        source_options=options,
        styles=styles,
    )
    done = collect(request, workers=args.workers, progress=not args.quiet, backend=args.backend, address=args.address)
    if done["recorded"]:
        print(
            f"recorded {done['recorded']} episodes ({done['transitions_recorded']} transitions) in "
            f"{done['seconds']:.1f} s: {done['transitions_per_s']:.1f} transitions/s with {args.workers} "
            f"worker(s); kept {done['kept']} finished before",
            file=sys.stderr,
        )
    return _show(Dataset(args.out).summary(), args.json)


def add_dataset(commands) -> None:
    p = commands.add_parser("dataset", help="summarise a dataset directory")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=lambda args: _show(Dataset(args.path).summary(progress=not args.json), args.json))


def _show(summary: dict, as_json: bool):
    if as_json:
        return summary
    lines = [f"dataset {summary['path']}"]
    for key in ("domain", "env_id", "scenario", "episodes", "transitions", "frame_shape", "terminated_episodes"):
        lines.append(f"  {key:<20} {summary[key]}")
    lines.append(f"  {'action_space':<20} {json.dumps(summary['action_space'])}")
    lines.append(f"  {'state_fields':<20} {', '.join(summary['state_fields']) or '(none)'}")
    for key in ("reward", "episode_return", "episode_length"):
        s = summary[key]
        lines.append(f"  {key:<20} mean {s['mean']:.3f}  std {s['std']:.3f}  min {s['min']:.3f}  max {s['max']:.3f}")
    lines.append(f"  {'behaviour_styles':<20} {summary['behaviour_styles']}")
    lines.append(f"  {'split':<20} train {summary['split']['train']} / val {summary['split']['val']} episodes")
    return "\n".join(lines)
