"""`worldsim train-text`: the shared text + scene space beside a world model."""

from __future__ import annotations

from dataclasses import fields

from worldsim.search import METHODS, VERIFIERS

# The scene generator's options: name, type, what it sets (worldsim/model/scene_guide.py).
GENERATOR_OPTIONS = (
    ("generator_steps", int, "the scene generator's optimizer steps"),
    ("generator_kl", float, "weight of the scene generator's KL term: how much its code may carry that a caption does not say"),
    (
        "guidance",
        float,
        "weight of the attribute reader's verdict on scenes generated from fresh codes; 0: a plain conditional VAE",
    ),
    ("reader_steps", int, "optimizer steps of the attribute reader that guides the generator"),
    ("reader_jitter", float, "how far around real state codes the reader learns the rules, in their standard deviations"),
    ("frame_guidance", float, "weight of the same verdict on the state read back off the frame drawn of each generated scene"),
    ("manifold", float, "weight of a generated state's distance past real scenes' own to its nearest real state"),
    (
        "feasibility",
        float,
        "weight of how far generated states lie into states no scene starts in "
        "(the domain's infeasibility: driving, a car on the ego)",
    ),
    (
        "feasibility_steps",
        int,
        "with --feasibility, also charge this many dreamt steps of each fresh scene left to itself "
        "(a start the dynamics move a car onto the ego at once); 0: the start alone",
    ),
)
# Defaults each switch turns off: the attribute reader's safeguards, and numbers learnt in their tolerance's units.
GENERATOR_SWITCHES = (
    ("reader_all_fields", "the attribute reader sees every state field, not only those the table's rules read"),
    ("reader_unclamped", "the reader judges a state beyond the span of real ones where it lies, not at the span's edge"),
    (
        "numbers_in_range",
        "the heads and the reader learn numbers (a speed, a gap) in units of their whole range, as text models "
        "trained before did, not of the tolerance a prompt's number holds within",
    ),
)


def add_train_text(commands) -> None:
    from worldsim.model.text_training import TextTrainConfig

    defaults = {f.name: f.default for f in fields(TextTrainConfig)}
    p = commands.add_parser(
        "train-text", help="train the text encoder and the shared text + scene space of a world model, and score retrieval"
    )
    p.add_argument(
        "--checkpoint", required=True, help="the world model (run directory or built-in domain) whose latent is the scene side"
    )
    p.add_argument("--data", required=True, help="episodes of its domain (`worldsim collect`); the val split is held out")
    p.add_argument(
        "--out", required=True, help="directory for text.safetensors and text.json (the model's own directory ships them)"
    )
    p.add_argument("--steps", type=int, default=defaults["steps"], help=f"optimizer steps (default {defaults['steps']})")
    p.add_argument(
        "--batch-size", type=int, default=defaults["batch_size"], help=f"scenes per step (default {defaults['batch_size']})"
    )
    p.add_argument(
        "--every",
        type=int,
        default=defaults["every"],
        help=f"one scene per this many steps of an episode (default {defaults['every']})",
    )
    p.add_argument(
        "--pool", type=int, default=defaults["pool"], help=f"retrieval candidates per query (default {defaults['pool']})"
    )
    p.add_argument(
        "--number-features",
        type=int,
        default=defaults["number_features"],
        help="octaves of a number's value the text encoder adds to its digit tokens; 0: the digits alone "
        f"(default {defaults['number_features']}; domains whose captions hold no number ignore it)",
    )
    for name, kind, what in GENERATOR_OPTIONS:
        flag = name.replace("_", "-")
        p.add_argument(f"--{flag}", type=kind, default=defaults[name], help=f"{what} (default {defaults[name]:g})")
    for name, what in GENERATOR_SWITCHES:
        p.add_argument(f"--{name.replace('_', '-')}", action="store_true", help=what)
    p.add_argument(
        "--generator-only",
        action="store_true",
        help="keep the checkpoint's text model (encoder, scene side, heads) and train a fresh scene generator beside it, "
        "on scenes cut as the text model's were (--every and the other text options are not used)",
    )
    p.add_argument("--seed", type=int, default=defaults["seed"])
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run_train_text)


def run_train_text(args):
    import torch

    from worldsim.envs.keys import calm_action
    from worldsim.model.text_training import TextTrainConfig, retrain_scene_generator, train_text_model

    counts = ("steps", "batch_size", "every", "pool", "generator_steps", "reader_steps")
    for name in counts:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    for name in (n for n, kind, _ in GENERATOR_OPTIONS if kind is float):  # weights
        if not getattr(args, name) >= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")
    if args.feasibility_steps < 0:
        raise ValueError(f"--feasibility-steps must be 0 or more, got {args.feasibility_steps}")
    if not 0 <= args.number_features <= 16:
        raise ValueError(f"--number-features must lie in 0-16 octaves, got {args.number_features}")
    if args.feasibility_steps and not args.feasibility:
        raise ValueError("--feasibility-steps charges dreamt steps at the --feasibility weight; give --feasibility too")
    if args.threads:
        torch.set_num_threads(args.threads)
    options = ("steps", "batch_size", "every", "pool", "seed", "number_features")
    options += tuple(name for name, _, _ in GENERATOR_OPTIONS)
    options += tuple(name for name, _ in GENERATOR_SWITCHES)
    config = TextTrainConfig(**{name: getattr(args, name) for name in options})
    train = retrain_scene_generator if args.generator_only else train_text_model
    report = train(args.checkpoint, args.data, args.out, config, progress=not args.quiet, calm=calm_action)
    return report if args.json else format_text_report(report, args.out)


def format_text_report(report: dict, out: str) -> str:
    r = report["retrieval"]
    lines = [
        f"shared space written to {out}: {report['scenes']['train']} training scenes, {report['scenes']['held_out']} held out",
        f"retrieval in pools of {report['config']['pool']} held-out scenes (chance in brackets):",
    ]
    for way in ("text_to_scene", "scene_to_text"):
        cells = [f"exact@{k} {r[f'{way}_exact@{k}']:.2f} ({r[f'exact@{k}_chance']:.2f})" for k in (1, 5)]
        cells += [f"match@{k} {r[f'{way}_match@{k}']:.2f} ({r[f'{way}_match@{k}_chance']:.2f})" for k in (1, 5)]
        lines.append(f"  {way.replace('_', ' ')}: " + ", ".join(cells))
    lines.append("attribute heads (describe = read off a real scene, understand = read off a caption; most common value):")
    for name, a in r["attributes"].items():
        lines.append(f"  {name:<20} describe {a['describe']:.2f}  understand {a['understand']:.2f}  ({a['most_common']:.2f})")
    g = report.get("generation")
    if g:
        held = ", ".join(f"{name} {share:.2f}" for name, share in g["attribute_holds"].items())
        lines.append(
            f"generated from {g['captions']} held-out captions: the whole caption holds {g['whole_caption_holds']:.2f} ({held})"
        )
    reader = report.get("generator_training", {}).get("reader")
    if reader:
        agree = ", ".join(f"{name} {share:.2f}" for name, share in reader["agreement_held_out"].items() if share is not None)
        lines.append(f"attribute reader guiding the generator, agreement with the rules on held-out states: {agree}")
    return "\n".join(lines)


PROBE_DATA_HELP = (
    "more real episodes of the domain for the frame probe (e.g. data/eval/robotics-probe): a probe reads positions far "
    "better from many episodes; --data's every fifth episode is kept from it for its ceiling either way"
)


def add_eval_prompts(commands) -> None:
    p = commands.add_parser("eval-prompts", help="score scenes generated from a prompt set: attributes, realism, consistency")
    p.add_argument("--domain", help="a built-in domain (its shipped weights and text model)")
    p.add_argument("--checkpoint", help="a model directory holding a text model")
    p.add_argument("--prompts", required=True, help="a prompt set, e.g. scenarios/prompts/robotics-heldout.yaml")
    p.add_argument(
        "--data", required=True, help="real episodes of the domain: the probe learns from them, realism compares to them"
    )
    p.add_argument("--seeds", type=int, default=4, help="scenes generated per prompt (default 4)")
    p.add_argument("--samples", type=int, default=1, help="each scene the verifier's best of this many (default 1)")
    p.add_argument(
        "--method", choices=METHODS, default="best_of_n", help="--samples: fresh draws, or reflecting on the best so far"
    )
    p.add_argument("--temperature", type=float, help="--method reflect: how far new candidates stray (default 0.5)")
    p.add_argument(
        "--verifier", choices=VERIFIERS, default="state", help="--samples: grade the generated state or the drawn frame"
    )
    p.add_argument("--steps", type=int, default=50, help="dream steps after each generated start, for consistency (default 50)")
    p.add_argument(
        "--variety", type=float, default=1.0, help="scale of the generator's code: above 1 spreads seeds apart (default 1)"
    )
    p.add_argument("--probe-data", help=PROBE_DATA_HELP)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_eval_prompts)


def run_eval_prompts(args):
    from worldsim.data import Dataset
    from worldsim.language.prompt_sets import load_prompt_set
    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.scene import check_variety
    from worldsim.model.text import load_shared_space
    from worldsim.prompt_eval import PromptEvalConfig, evaluate_prompts
    from worldsim.search.best_of_n import Search

    if args.seeds < 1 or args.steps < 1:
        raise ValueError(f"--seeds and --steps must be at least 1, got {args.seeds} and {args.steps}")
    check_variety(args.variety)
    if not args.domain and not args.checkpoint:
        raise ValueError("give --domain or --checkpoint")
    path = resolve_checkpoint(args.checkpoint or args.domain)
    model, _ = load_model(path, domain=args.domain)
    space, _ = load_shared_space(path, world_model=model)
    options = {"method": args.method, "samples": args.samples, "verifier": args.verifier}
    search = Search.from_options({**options, **({"temperature": args.temperature} if args.temperature is not None else {})})
    reflector = _reflector(path, space, search)  # a clear error before any work
    config = PromptEvalConfig(
        seeds=args.seeds,
        samples=args.samples,
        method=args.method,
        temperature=search.temperature,
        verifier=args.verifier,
        steps=args.steps,
        variety=args.variety,
        seed=args.seed,
    )
    probe_data = Dataset(args.probe_data) if args.probe_data else None
    prompts = load_prompt_set(args.prompts)
    report = evaluate_prompts(model, space, prompts, Dataset(args.data), config, reflector, probe_data=probe_data)
    return report if args.json else format_prompt_report(report)


def add_scaling(commands) -> None:
    p = commands.add_parser(
        "scaling", help="prompt accuracy against test-time samples: eval-prompts at each K and the fitted curve Q(K)"
    )
    p.add_argument("--domain", help="a built-in domain (its shipped weights and text model)")
    p.add_argument("--checkpoint", help="a model directory holding a text model")
    p.add_argument("--prompts", required=True, help="a prompt set, e.g. scenarios/prompts/games-heldout.yaml")
    p.add_argument("--data", required=True, help="real episodes of the domain, as for eval-prompts")
    p.add_argument("--probe-data", help=PROBE_DATA_HELP)
    p.add_argument("--method", choices=METHODS, default="best_of_n")
    p.add_argument("--verifier", choices=VERIFIERS, default="state", help="what the search grades")
    p.add_argument("--ks", default="1,2,4,8,16", help="samples per scene to measure (default 1,2,4,8,16)")
    p.add_argument("--seeds", type=int, default=16, help="scenes per prompt at each K (default 16)")
    p.add_argument("--marginal", type=float, default=0.005, help="K*: where one more sample adds less than this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", help="write a PNG of the measured and fitted curves here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_scaling)


def run_scaling(args):
    import time

    import numpy as np

    from worldsim.data import Dataset
    from worldsim.language.prompt_sets import load_prompt_set
    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.text import load_shared_space
    from worldsim.prompt_eval import PromptEvalConfig, evaluate_prompts, real_side
    from worldsim.search.best_of_n import Search
    from worldsim.search.scaling import plot_scaling, scaling_fit

    try:
        ks = sorted({int(k) for k in args.ks.split(",")})
    except ValueError:
        raise ValueError(f"--ks must be whole numbers separated by commas, got {args.ks!r}") from None
    if len(ks) < 3:
        raise ValueError(f"a scaling fit needs quality at three distinct K at least, got --ks {args.ks}")
    for k in ks:
        Search.from_options({"method": args.method, "samples": k, "verifier": args.verifier})
    if not args.domain and not args.checkpoint:
        raise ValueError("give --domain or --checkpoint")
    path = resolve_checkpoint(args.checkpoint or args.domain)
    model, _ = load_model(path, domain=args.domain)
    space, _ = load_shared_space(path, world_model=model)
    prompts, data = load_prompt_set(args.prompts), Dataset(args.data)
    probe_data = Dataset(args.probe_data) if args.probe_data else None
    reflector = _reflector(path, space, Search(args.method, ks[-1], args.verifier))
    judged, graded, seconds = [], [], []
    real = None  # the real frames and the probe trained on them: the same at every K, made once
    for k in ks:
        config = PromptEvalConfig(seeds=args.seeds, samples=k, method=args.method, verifier=args.verifier, seed=args.seed)
        start = time.perf_counter()
        real = real_side(model, data, config, probe_data) if real is None else real
        report = evaluate_prompts(model, space, prompts, data, config, reflector, real)
        seconds.append(time.perf_counter() - start)
        cases = [c for c in report["cases"] if c["kind"] != "out_of_range"]
        judged.append([c.get("frame_holds", 0.0) for c in cases])  # a prompt the reading fails on: 0
        graded.append([c.get("state_holds", 0.0) for c in cases])
    result = {
        "domain": model.config.domain,
        "prompt_set": str(prompts.path),
        "method": args.method,
        "verifier": args.verifier,
        "seeds": args.seeds,
        "seconds": seconds,
        # the frame as the probe trained on real frames reads it: the judge that did not choose
        "judge": scaling_fit(ks, np.array(judged).T, args.marginal, seed=args.seed),
        "on_state": scaling_fit(ks, np.array(graded).T, args.marginal, seed=args.seed),
    }
    if args.plot:
        title = f"{result['domain']} {args.method}, {args.verifier} verifier: whole-prompt accuracy"
        plot_scaling({"judge (frame probe)": result["judge"], "generated state": result["on_state"]}, args.plot, title)
        result["plot"] = args.plot
    return result if args.json else format_scaling_report(result)


def format_scaling_report(result: dict) -> str:
    lines = [f"{result['domain']} {result['method']} ({result['verifier']} verifier), {result['prompt_set']}:"]
    for name in ("judge", "on_state"):
        f = result[name]
        ci = f["interval_90"]
        lines += [
            f"  {name}: quality " + ", ".join(f"K={k} {q:.2f}" for k, q in zip(f["ks"], f["quality"], strict=True)),
            f"    Q_inf {f['q_inf']:.2f} [{ci['q_inf'][0]:.2f}, {ci['q_inf'][1]:.2f}], gamma {f['gamma']:.2f} "
            f"[{ci['gamma'][0]:.2f}, {ci['gamma'][1]:.2f}], K* {f['k_star']:.1f} [{ci['k_star'][0]:.1f}, {ci['k_star'][1]:.1f}] "
            f"at {f['marginal']} per sample",
        ]
        if f["gamma_at_bound"]:
            lines.append("    (gamma at the edge of its grid: over these K the curve has not begun to level off; try larger K)")
    return "\n".join(lines)


def format_prompt_report(report: dict) -> str:
    def num(v):
        return "-" if v is None else f"{v:.2f}"

    whole = report["whole_prompt"]
    lines = [
        f"{report['domain']} prompts ({report['split']}, {report['prompt_set']})"
        + (
            f", each scene the best of {report['config']['samples']} by its {report['config']['verifier']}"
            if report["config"].get("samples", 1) > 1
            else ""
        )
        + ":",
        f"  whole-prompt accuracy: on the generated state {num(whole['on_state'])}, read off the frame {num(whole['on_frame'])}"
        + (
            f" (on the prompts held-out real frames hold: generated {num(whole.get('on_frame_where_real_frames_hold'))}, "
            f"real frames {num(whole['real_frames_read_whole'])})"
            if "real_frames_read_whole" in whole  # reports written before it have none
            else ""
        ),
        "  by kind (frame): " + ", ".join(f"{k} {num(v)}" for k, v in whole["by_kind_on_frame"].items()),
        "  probe ceiling on held-out real frames: " + ", ".join(f"{k} {num(v)}" for k, v in report["probe_ceiling"].items()),
        f"  refusals of out-of-range prompts: {num(report['refusals'])}",
    ]
    if report.get("feasible") is not None:  # reports written before the check have none
        lines.append(f"  generated starts a scene can start in (not a crash already): {num(report['feasible'])}")
    if report.get("seed_spread") is not None:
        lines.append(f"  seeds' spread against real scenes holding the same words: {num(report['seed_spread'])} (1 = as varied)")
    if "realism" in report:
        lines.append(f"  realism of generated starts: {num(report['realism'])} (0.5 = indistinguishable from real starts)")
        tests = report.get("realism_tests") or {}  # reports written before these tests have none
        labels = {
            "against_real_frames": "generated starts against real frames",
            "real_scenes_drawn": "the model's drawings of real scenes against real frames (the decoder's floor)",
            "generated_against_drawn_real_scenes": "generated starts against those drawings (what the scenes hold)",
            "against_real_scenes_holding_the_words": "generated starts against real scenes holding the same words",
        }
        for key, label in labels.items():
            if tests.get(key):
                t = tests[key]
                lines.append(f"    {label}: {t['mean']:.2f} ({t['low']:.2f}-{t['high']:.2f} over classifier seeds)")
    if "consistency" in report:
        c = report["consistency"]
        found = ", ".join(f"{k} {v:.0%}" for k, v in c.get("objects_found", {}).items())
        lines.append(
            f"  {c['steps']} steps after generation: teleports {c['teleport_share']:.1%}, motion {c['motion']:.1f}; {found}"
        )
        real = c.get("real_starts", {})
        for who, mine, theirs in (
            ("dreams", c.get("ended_within", {}), real.get("ended_within", {})),
            ("the simulator", c.get("simulator", {}).get("ended_within", {}), real.get("simulator", {}).get("ended_within", {})),
        ):
            if mine:
                cells = ", ".join(f"{k} {v:.0%} ({theirs[k]:.0%})" if k in theirs else f"{k} {v:.0%}" for k, v in mine.items())
                lines.append(f"  {who} ended within steps (from real episodes' starts in brackets): {cells}")
        words = c.get("real_scenes_holding_the_words", {}).get("simulator_ended_within")
        if words:
            cells = ", ".join(f"{k} {v:.0%}" for k, v in words.items())
            lines.append(f"  the simulator on real scenes holding the same words ended within steps: {cells}")
        if "simulator" in c:
            agree = ", ".join(f"{k} {v:.0%}" for k, v in c["simulator"]["dream_agrees_within"].items())
            lines.append(f"  the dream agrees with the simulator on ending within steps: {agree}")
        jumps = list(c.get("teleport_fields", {}).items())[:4]
        if jumps:
            lines.append("  teleporting fields (share of steps): " + ", ".join(f"{k} {v:.1%}" for k, v in jumps))
    if "modal_aphasia" in report:
        a = report["modal_aphasia"]
        lines.append(f"  draw {num(a['draw'])} vs describe {num(a['describe'])}: gap {num(a['gap'])}")
    if report.get("attributes"):
        lines.append(
            "  where each attribute is lost: state, frame, frame where the state holds, real frames, "
            "real frames holding the asked value, drawn truth"
        )
        for name, a in report["attributes"].items():
            asked = a.get("ceiling_on_asked")  # reports written before it have none
            cells = (a["on_state"], a["on_frame"], a["frame_given_state"], a["ceiling"], asked, a["drawn_truth"])
            lines.append(f"    {name:<20} " + " ".join(f"{num(v):>5}" for v in cells))
    return "\n".join(lines)


def _reflector(path, space, search):
    """The reflector beside the text model when the search reflects (a clear error if none)."""
    if search.method != "reflect":
        return None
    from worldsim.model.reflect import load_reflector

    return load_reflector(path, space)


def add_train_reflect(commands) -> None:
    from worldsim.model.reflect import ReflectTrainConfig

    defaults = {f.name: f.default for f in fields(ReflectTrainConfig)}
    p = commands.add_parser(
        "train-reflect", help="train reflection's conditioning path beside a text model (search method 'reflect')"
    )
    p.add_argument("--checkpoint", required=True, help="a model directory (or built-in domain) holding its text model")
    p.add_argument("--data", required=True, help="episodes of its domain; the text model's training split is used")
    p.add_argument("--steps", type=int, default=defaults["steps"], help=f"optimizer steps (default {defaults['steps']})")
    p.add_argument(
        "--heads",
        type=float,
        default=defaults["heads"],
        help="weight of the attribute heads' reading of the moved scene against the caption "
        f"(0: only move towards the caption's own scene; default {defaults['heads']})",
    )
    p.add_argument("--seed", type=int, default=defaults["seed"])
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run_train_reflect)


def run_train_reflect(args):
    from worldsim.model.reflect import ReflectTrainConfig, train_reflector_for

    if args.steps < 1 or not args.heads >= 0:
        raise ValueError(f"--steps must be at least 1 and --heads at least 0, got {args.steps} and {args.heads}")
    config = ReflectTrainConfig(steps=args.steps, heads=args.heads, seed=args.seed)
    report = train_reflector_for(args.checkpoint, args.data, config, not args.quiet)
    if args.json:
        return report
    return (
        f"reflector written beside the text model of {args.checkpoint}: {report['scenes']} scenes, "
        f"loss {report['loss']['first']:.3f} -> {report['loss']['last']:.3f}"
    )
