"""Exporting a trained run as shippable weights, with its model card.

`worldsim export --checkpoint RUN --eval EVAL.json --out DIR` copies the model, its config and its
start-frame bank, keeps the evaluation report next to them, and writes MODEL_CARD.md: the data it
learned from, the commands that retrain it (every stage of a fine-tuned model), their wall-clock
and its evaluation table. A text model trained beside the run (`worldsim train-text --out RUN`, for
prompts) goes with it, checked to belong to these weights. The new directory is assembled under a
temporary name and swapped in whole.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from worldsim.model.checkpoint import CONFIG, WEIGHTS, load_model, resolve_checkpoint, weights_fingerprint, write_json
from worldsim.model.retrain import Stage, record_stages, retrain_stages, stages_for_export, wall_clock
from worldsim.model.start_bank import START_BANK

EVAL = "eval.json"
LONG_EVAL = "long_eval.json"
CARD = "MODEL_CARD.md"
TEXT_FILES = ("text.json", "text.safetensors")
REFLECT_FILES = ("reflect.json", "reflect.safetensors")
DISTILLED_FILES = ("decoder-distilled.json", "decoder-distilled.safetensors")
COLLECT = "scripts/collect_datasets.sh data 2"


def export(
    checkpoint: str | Path, eval_report: str | Path, out: str | Path, notes: str = "", long_eval: str | Path | None = None
) -> Path:
    source = resolve_checkpoint(checkpoint)
    model, meta = load_model(source)
    report = _read_report(eval_report, model.config.domain, long=False)
    long_report = _read_report(long_eval, model.config.domain, long=True) if long_eval else None
    if not (source / START_BANK).is_file():
        raise FileNotFoundError(f"{source / START_BANK}: the run has no start-frame bank (it is written when training ends)")
    out = Path(out)
    tmp, old = out.with_name(f".{out.name}.tmp"), out.with_name(f".{out.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    text_report = _text_model(source, model)
    reflect_report = _reflector(source, model) if text_report is not None else None
    files = [WEIGHTS, CONFIG, START_BANK]
    files += TEXT_FILES if text_report is not None else ()
    files += REFLECT_FILES if reflect_report is not None else ()
    distilled_report = _distilled(source, model)
    files += DISTILLED_FILES if distilled_report is not None else ()
    run = checkpoint if Path(checkpoint).is_dir() else None  # a built-in name: the stages' own directories
    # The config as written (read_config fills in a release's defaults, which would change the key
    # the stages are recorded under from one release to the next).
    config, weights = json.loads((source / CONFIG).read_text()), weights_fingerprint(model)
    stages = stages_for_export(config, model.config.domain, weights, run)
    for name in files:
        if name != CONFIG:
            shutil.copyfile(source / name, tmp / name)
    # the chain found now goes with the weights: exported again where its runs are gone, it stays
    write_json(tmp / CONFIG, {**config, "retraining": record_stages(config, weights, stages)})
    (tmp / EVAL).write_text(json.dumps(report, indent=2) + "\n")
    if long_report is not None:
        (tmp / LONG_EVAL).write_text(json.dumps(long_report, indent=2) + "\n")
    size_mb = sum((tmp / n).stat().st_size for n in (WEIGHTS, CONFIG, START_BANK)) / 1e6
    params = sum(p.numel() for p in model.parameters())
    card = model_card(meta, report, params, size_mb, notes, long_report, stages, text_report, reflect_report, distilled_report)
    (tmp / CARD).write_text(card)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def _text_model(source: Path, model) -> dict[str, Any] | None:
    """The training report of the text model beside the run (None without one); one trained beside
    other weights is refused here, not at a user's first prompt."""
    if not all((source / name).is_file() for name in TEXT_FILES):
        return None
    from worldsim.model.text import load_shared_space

    return load_shared_space(source, world_model=model)[1]


def _reflector(source: Path, model) -> dict[str, Any] | None:
    """The training report of reflection's conditioning path beside the text model (None without
    one); one trained beside another text model is refused here."""
    if not all((source / name).is_file() for name in REFLECT_FILES):
        return None
    from worldsim.model.reflect import load_reflector
    from worldsim.model.text import load_shared_space

    load_reflector(source, load_shared_space(source, world_model=model)[0])
    return json.loads((source / "reflect.json").read_text()).get("report", {})


def _distilled(source: Path, model) -> dict[str, Any] | None:
    """The report of the decoder distilled from these weights (None without one); one distilled
    from other weights is refused here."""
    if not all((source / name).is_file() for name in DISTILLED_FILES):
        return None
    from worldsim.model.distill import with_decoder

    with_decoder(model, source, "distilled")
    return json.loads((source / DISTILLED_FILES[0]).read_text()).get("report", {})


def _read_report(path: str | Path, domain: str, long: bool) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable evaluation report ({exc})") from None
    if not isinstance(report, dict) or "splits" not in report:
        raise ValueError(f"{path}: not a `worldsim eval --json` report")
    if report.get("domain") != domain:
        raise ValueError(f"{path}: an evaluation of a {report.get('domain')!r} model, the checkpoint is {domain!r}")
    if bool(report.get("long")) != long:
        wanted = "a long-horizon (`worldsim eval --long`)" if long else "an open-loop (`worldsim eval` without --long)"
        raise ValueError(f"{path}: not {wanted} report")
    return report


def model_card(
    meta: dict[str, Any],
    report: dict[str, Any],
    params: int,
    size_mb: float,
    notes: str,
    long_report: dict[str, Any] | None = None,
    stages: list[Stage] | None = None,
    text_report: dict[str, Any] | None = None,
    reflect_report: dict[str, Any] | None = None,
    distilled_report: dict[str, Any] | None = None,
) -> str:
    model, recipe = meta["model"], meta.get("recipe", {})
    data = recipe.get("dataset", {})
    domain = model["domain"]
    stages = retrain_stages(meta, domain) if stages is None else stages
    commands = [command for stage in stages for command in stage.commands]
    styles = ", ".join(f"{k} {v}" for k, v in data.get("behaviour_styles", {}).items())
    lines = [
        f"# WorldSim {domain} world model",
        "",
        f"A learned model of `{data.get('env_id', model.get('env_id'))}` at {model['frame_size']}x{model['frame_size']} "
        f"pixels: {params / 1e6:.2f} M parameters, {size_mb:.1f} MB with its start-frame bank, checkpoint format "
        f'version {meta["format_version"]}. Served by `gym.make("WorldSim-{domain}-v0")`.',
        "",
        "## Data",
        "",
        f"{data.get('episodes')} episodes, {data.get('transitions')} transitions, recorded by `{COLLECT}` "
        f"(behaviour styles: {styles}); split {data.get('split', {}).get('train')} train / "
        f"{data.get('split', {}).get('val')} held-out episodes.",
        "",
        "## Retrain from scratch",
        "",
        "```bash",
        COLLECT,
        *commands,
        "```",
        "",
        wall_clock(stages),
        "",
        "## Evaluation",
        "",
        f"Open-loop from {report['context']} real frames, on held-out episodes. PSNR and SSIM are scored "
        "on 8-bit frames and averaged per frame (a frame where nothing moved scores a capped 100 dB); "
        "pooled PSNR is that of the mean squared error over all frames. State error: mean absolute "
        "error per field in its units, averaged over fields (`eval.json` has each field). Copy-last "
        "repeats the last context frame and state. Reproduce with:",
        "",
        "```bash",
        eval_command(report),
        "```",
        "",
    ]
    lines += eval_tables(report)
    if long_report is not None:
        lines += long_section(long_report)
    if text_report is not None:
        lines += text_section(text_report)
    if reflect_report is not None:
        lines += reflect_section(reflect_report)
    if distilled_report is not None:
        lines += distilled_section(distilled_report)
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    return "\n".join(lines) + "\n"


def reflect_section(report: dict[str, Any]) -> list[str]:
    """Reflection's conditioning path (search method "reflect"): how it was trained."""
    config = report.get("config", {})
    flags = "".join(f" --{k} {config[k]}" for k in ("steps", "heads", "seed") if k in config)
    return [
        "",
        "## Reflection (prompt search)",
        "",
        'The network behind `"search": {"method": "reflect"}` (worldsim/model/reflect.py), trained beside the '
        f"text model on {report.get('scenes')} scenes:",
        "",
        "```bash",
        f"worldsim train-reflect --checkpoint RUN --data {report.get('data') or 'DATA'}{flags}",
        "```",
    ]


def distilled_section(report: dict[str, Any]) -> list[str]:
    """The narrower decoder behind `decoder="distilled"`: how it was made and how close it draws."""
    config, held = report.get("config", {}), report.get("held_out", {})
    flags = "".join(
        f" --{k.replace('_', '-')} {config[k]}" for k in ("channels", "steps", "edges", "init", "seed") if config.get(k)
    )
    flags += " --dreams" if config.get("dreams") else ""
    params = report.get("parameters", {})
    return [
        "",
        "## Distilled decoder (an approximate, faster path)",
        "",
        f'`decoder="distilled"` draws with a decoder of {params.get("student", 0):,} parameters (this model\'s: '
        f"{params.get('teacher', 0):,}), distilled from this model's own on {report.get('train_states', 0):,} "
        f"recorded states (worldsim/model/distill.py). On {held.get('states')} held-out states it draws "
        f"{held.get('psnr_db', float('nan')):.1f} dB from this model's frames, "
        f"{100 * held.get('pixels_differing', float('nan')):.1f} % of pixels snapped to another colour. Remake with:",
        "",
        "```bash",
        f"worldsim distill --checkpoint RUN --data {report.get('data') or 'DATA'}{flags}",
        "```",
    ]


def text_section(report: dict[str, Any]) -> list[str]:
    """The text model that serves `reset(options={"prompt": ...})`: how it was trained and its retrieval."""
    config, retrieval = report.get("config", {}), report.get("retrieval", {})
    trained = report.get("generator_training", {})
    # A generator retrained alone leaves the text model's options in the config, but its own seed.
    own = ("steps", "batch_size", "every", "pool", "number_features") + (() if trained.get("retrained_alone") else ("seed",))
    flags = "".join(f" --{k.replace('_', '-')} {config[k]}" for k in own if k in config)
    lines = [
        "## Text model (prompts)",
        "",
        'The shared text + scene space and the scene generator behind `reset(options={"prompt": ...})` and '
        "`worldsim generate`, trained beside these weights on "
        f"{report.get('scenes', {}).get('train')} scenes ({report.get('scenes', {}).get('held_out')} held out):",
        "",
        "```bash",
        f"worldsim train-text --checkpoint RUN --data {report.get('data') or 'DATA'} --out RUN{flags}",
    ]
    if trained.get("retrained_alone"):
        generator_flags = "".join(
            f" --{k.replace('_', '-')} {config[k]:g}"
            for k in ("generator_kl", "guidance", "frame_guidance", "manifold", "feasibility", "feasibility_steps")
            if config.get(k)
        )
        from worldsim.model.text_training import TextTrainConfig

        defaults = TextTrainConfig()  # the reader's settings are named where they differ from these
        generator_flags += "".join(
            f" --{k.replace('_', '-')} {config[k]:g}"
            for k in ("reader_steps", "reader_jitter")
            if config.get(k, getattr(defaults, k)) != getattr(defaults, k)
        )
        switches = ("reader_all_fields", "reader_unclamped", "numbers_in_range")  # defaults switched off
        generator_flags += "".join(f" --{k.replace('_', '-')}" for k in switches if config.get(k))
        generator_flags += f" --seed {config['seed']}" if config.get("seed") else ""
        lines.append(
            f"worldsim train-text --checkpoint RUN --data {trained.get('data') or 'DATA'} --out RUN "
            f"--generator-only{generator_flags}   # the scene generator, retrained beside the text model above"
        )
    lines += ["```", ""]
    generation = report.get("generation")
    if generation:
        lines += [
            f"Scenes generated from {generation['captions']} held-out captions, one fresh draw each, hold the whole "
            f"caption on their state in {generation['whole_caption_holds']:.2f} of cases.",
            "",
        ]
    pools = config.get("pool")
    if retrieval:
        lines += [
            f"| retrieval, pools of {pools} | exact@1 | exact@5 | match@1 | match@5 |",
            "|---|---:|---:|---:|---:|",
        ]
        for way, name in (("text_to_scene", "text -> scene"), ("scene_to_text", "scene -> text")):
            cells = [f"{retrieval.get(f'{way}_{k}', float('nan')):.2f}" for k in ("exact@1", "exact@5", "match@1", "match@5")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Chance: exact@1 {retrieval.get('exact@1_chance', float('nan')):.2f}, exact@5 "
            f"{retrieval.get('exact@5_chance', float('nan')):.2f}; match@5 "
            f"{retrieval.get('text_to_scene_match@5_chance', float('nan')):.2f} (text -> scene). "
            '"match": a retrieved scene the caption holds on (`text.json` has the full report).',
            "",
        ]
    return lines


def long_section(report: dict[str, Any]) -> list[str]:
    """The long-horizon report as `worldsim eval --long` prints it, with the command that reruns it."""
    from worldsim.model.long_horizon import format_long_report

    held = report["splits"]["held_out"]
    command = f"worldsim eval --checkpoint {report['domain']} --data {held['data']} --long --episodes {held['episodes']}"
    if held.get("episodes_split") == "all":
        command += " --split all"
    if report.get("probe_data"):
        command += f" --probe-data {report['probe_data']}"
    if report.get("controllability_starts") is not None:
        command += f" --controllability-starts {report['controllability_starts']}"
    lines = [
        "## Long-horizon evaluation",
        "",
        "Whole held-out episodes replayed open-loop from their first real frames with the recorded actions "
        "(`worldsim/model/long_horizon.py` describes every column; `long_eval.json` has the full report). "
        "Reproduce with:",
        "",
        "```bash",
        command,
        "```",
        "",
    ]
    for name, split in report["splits"].items():
        lines += [f"**{name}** (`{split['data']}`)", "", "```text", format_long_report(split), "```", ""]
    return lines


def eval_command(report: dict[str, Any]) -> str:
    held = report["splits"]["held_out"]
    parts = [f"worldsim eval --checkpoint {report['domain']} --data {held['data']}"]
    if held.get("episodes") == "all":
        parts.append("--split all")
    if "ood" in report["splits"]:
        parts.append(f"--ood {report['splits']['ood']['data']}")
    alphas = ",".join(held["model"])
    parts.append(f"--ks {','.join(map(str, report['ks']))} --alphas {alphas} --windows {held['windows']}")
    return " ".join(parts)


METRICS = (("PSNR dB", "psnr", 2), ("pooled PSNR dB", "psnr_pooled", 2), ("SSIM", "ssim", 3), ("state error", None, 2))


def eval_tables(report: dict[str, Any]) -> list[str]:
    """Per split: one row per (k, metric), the copy-last baseline next to each α."""
    lines = []
    for name, split in report["splits"].items():
        alphas = list(split["model"])
        which = "all episodes" if split.get("episodes") == "all" else "its held-out episodes"
        lines += [f"**{name}** (`{split['data']}`, {which}, {split['windows']} windows)", ""]
        head = "| k | n | metric | copy-last | " + " | ".join(f"α={a}" for a in alphas) + " |"
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for k, base in split["copy_last"]["k"].items():
            for label, key, digits in METRICS:
                cells = [base] + [split["model"][a]["k"][k] for a in alphas]
                values = [c.get(key) if key else _mean(c["state_error"]) for c in cells]
                lines.append(f"| {k} | {base['n']} | {label} | " + " | ".join(_f(v, digits) for v in values) + " |")
        heads = []
        for a in alphas:
            m = split["model"][a]
            t = m.get("termination", {})
            heads.append(
                f"α={a}: reward MAE {_f(m.get('reward_mae'), 4)}, termination precision "
                f"{_f(t.get('precision'), 2)} / recall {_f(t.get('recall'), 2)} ({t.get('positives', 0)} real)"
            )
        lines += ["", "; ".join(heads) + ".", ""]
    return lines


def _mean(errors: dict[str, float]) -> float | None:
    return sum(errors.values()) / len(errors) if errors else None


def _f(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
