"""The commands that retrain a run from scratch, walked back through the stages that made it.

A shipped model is often the last of several stages: `worldsim train` (perhaps `--init` from an
earlier run), `scripts/refit_decoder.py` (the decoder refitted on true states, or grafted from
another run with `--steps 0 --decoder-from`) and `scripts/derive_checkpoint.py` (dreaming options
set on trained weights). Each stage records itself in the run's recipe (config.json) beside what it
started from, so the chain is read back from the last stage to the first; each command writes the
directory the next one reads, and a stage whose run is gone is named as such.

Export records the chain it found in the exported config (`retraining`), keyed to the weights and
recipe it was found for, so weights exported again where the stages' own runs are gone (the
shipped weights, re-exported beside a new text model) keep the commands that retrain them; a walk
that reaches a run holding such a record (a copy of the shipped weights, derived again) takes the
stages before it from there.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from worldsim.model.checkpoint import CheckpointError, read_config, resolve_checkpoint


@dataclass
class Stage:
    """One step of a run's making: its commands, and what it cost (none for a derivation)."""

    kind: str  # "train", "refit", "derive", or "missing" (a run not found at export)
    commands: list[str] = field(default_factory=list)
    wall_clock_s: float = 0.0
    steps: int | None = None
    threads: int | None = None


def stages_for_export(meta: dict[str, Any], domain: str, weights: str, run: str | Path | None = None) -> list[Stage]:
    """The stages of the run of `meta`: those an earlier export recorded for these very weights and
    config where there are any, else walked back through the runs (`retrain_stages`)."""
    return _kept_stages(meta, weights) or retrain_stages(meta, domain, run)


def _kept_stages(meta: dict[str, Any], weights: str) -> list[Stage] | None:
    """The stages `meta` (a config as written) records for the weights of fingerprint `weights`, or None."""
    kept = meta.get("retraining") or {}
    if kept.get("key") != _stages_key(meta, weights) or not kept.get("stages"):
        return None
    return [Stage(**stage) for stage in kept["stages"]]


def record_stages(meta: dict[str, Any], weights: str, stages: list[Stage]) -> dict[str, Any]:
    """The `retraining` entry of an exported config: `stages`, keyed to the weights' fingerprint
    and the config's model and recipe (a later refit or derivation copies the config but changes
    one of them, and so is walked again)."""
    return {"key": _stages_key(meta, weights), "stages": [asdict(stage) for stage in stages]}


def _stages_key(meta: dict[str, Any], weights: str) -> str:
    described = json.dumps({"model": meta.get("model"), "recipe": meta.get("recipe")}, sort_keys=True)
    return hashlib.sha256(f"{weights}:{described}".encode()).hexdigest()[:24]


def retrain_stages(meta: dict[str, Any], domain: str, run: str | Path | None = None, limit: int = 12) -> list[Stage]:
    """The stages that made the run of `meta` (its config.json), first stage first. `run` is where
    that run lives (a derivation records its source, not its own directory): the last command
    writes there, and a chain that leads back to it stops."""
    stages: list[Stage] = []
    seen = {Path(run).resolve()} if run else set()
    recipe, target = meta.get("recipe", {}), str(run) if run else None
    while len(stages) < limit:
        stage, source = last_stage(recipe, domain, target)
        stages.insert(0, stage)
        if not source:
            break
        try:
            path = resolve_checkpoint(source).resolve()
            recipe = read_config(path).get("recipe", {})
        except (CheckpointError, FileNotFoundError, ValueError):
            stages.insert(0, Stage("missing", [f"# starts from {source}, not found at export"]))
            break
        if path in seen:  # a built-in name ("robotics") now naming weights exported from this chain
            break
        recorded = _recorded_stages(path)
        if recorded:
            stages[0:0] = recorded
            break
        seen.add(path)
        target = str(source)
    return stages


def _recorded_stages(path: Path) -> list[Stage] | None:
    """The stages an export recorded in the run at `path` for its very weights and config, or None."""
    from worldsim.model.checkpoint import CONFIG, load_model, weights_fingerprint

    config = json.loads((path / CONFIG).read_text())  # as written: the key is over it
    if not (config.get("retraining") or {}).get("stages"):
        return None  # nothing recorded: no need to load the weights
    return _kept_stages(config, weights_fingerprint(load_model(path)[0]))


def last_stage(recipe: dict[str, Any], domain: str, out: str | None = None) -> tuple[Stage, str | None]:
    """The step that made a run with this recipe, writing `out` (default: where it wrote), and the
    run it started from (None for a training from scratch)."""
    derived, refit = recipe.get("derived"), recipe.get("refit_decoder")
    # A refit copies its source's recipe: a derivation it carries is the last step only if the
    # refit made the derivation's source (a run derived after being refitted), or came before it
    # (a derivation records the refit it found, `after_refit`: a run derived twice).
    if derived and (not refit or any(_same(refit.get("out"), derived.get(k)) for k in ("from", "after_refit"))):
        return Stage("derive", derive_command(recipe, domain, out)), derived.get("from")
    if refit:
        source = str(refit.get("checkpoint") or f"runs/{domain}")
        stage = Stage(
            "refit",
            refit_command(recipe, domain, source, out or refit.get("out")),
            refit.get("wall_clock_s", 0.0),
            refit.get("steps"),
            refit.get("threads"),
        )
        return stage, source
    train = recipe.get("train", {})
    command = train_command(recipe, domain)
    if out:
        command = _with_out(command, out)
    stage = Stage("train", [command], recipe.get("wall_clock_s", 0.0), train.get("steps"), train.get("threads"))
    return stage, train.get("init") or None


def train_command(recipe: dict[str, Any], domain: str) -> str:
    train = recipe.get("train", {})
    return f"{recipe.get('command', '')} --threads {train.get('threads') or 0}".replace(
        "worldsim train", f"worldsim train --domain {domain}", 1
    )


def derive_command(recipe: dict[str, Any], domain: str, out: str | None = None) -> list[str]:
    """The step that set dreaming options on the trained weights (scripts/derive_checkpoint.py), if
    one did, after the run whose decoder it took: without them the retrained run would dream and
    draw otherwise than the shipped model."""
    derived = recipe.get("derived")
    if not derived:
        return []
    lines, donor = [], derived.get("decoder_from")
    command = (
        f"python scripts/derive_checkpoint.py {derived['from']} {out or f'runs/{domain}'} '{json.dumps(derived['options'])}'"
    )
    if donor:
        try:
            lines.append(train_command(read_config(Path(donor)).get("recipe", {}), domain))
        except CheckpointError:
            lines.append(f"# the decoder's run {donor}, not found at export")
        command += f" --decoder-from {donor}"
    for flag in ("carry_from", "scale_carried"):  # the recordings the carried fields were read off
        if derived.get(flag):
            command += f" --{flag.replace('_', '-')} {derived[flag]}"
    return [*lines, command]


def refit_command(recipe: dict[str, Any], domain: str, source: str | None = None, out: str | None = None) -> list[str]:
    """The step that refitted the decoder alone on true states (scripts/refit_decoder.py), if one
    did, reading `source` and writing `out` (default: runs/DOMAIN to runs/DOMAIN-redrawn)."""
    refit = recipe.get("refit_decoder")
    if not refit:
        return []
    options = " ".join(
        f"--{name} {refit[name]}" for name in ("data", "test", "every", "steps", "batch", "lr", "foreground", "threads", "seed")
    )
    if refit.get("decoder_from"):
        options += f" --decoder-from {refit['decoder_from']}"
    if refit.get("view"):  # "camera", or a JSON spec (quoted for the shell)
        options += f" --view {refit['view']}" if refit["view"] == "camera" else f" --view '{refit['view']}'"
    minutes = f"  # {refit['wall_clock_s'] / 60:.0f} min" if "wall_clock_s" in refit else ""
    source, out = source or f"runs/{domain}", out or f"runs/{domain}-redrawn"
    return [f"python scripts/refit_decoder.py {source} --out {out} {options}{minutes}"]


def wall_clock(stages: list[Stage]) -> str:
    """A sentence on what the stages that compute cost (a derivation and a graft cost nothing)."""
    costly = [s for s in stages if s.kind == "train" or (s.kind == "refit" and s.steps)]
    if not costly:
        return "Wall-clock: not recorded."

    def part(stage: Stage) -> str:
        doing = "refitting the decoder for" if stage.kind == "refit" else "for"
        return f"{stage.wall_clock_s / 60:.0f} min {doing} {stage.steps} steps with {stage.threads or 'default'} torch thread(s)"

    if len(costly) == 1:
        return f"Wall-clock of this run: {part(costly[0])} on a 2-core CPU."
    minutes = sum(s.wall_clock_s for s in costly) / 60
    return f"Wall-clock of the {len(costly)} stages: {minutes:.0f} min in all ({', '.join(map(part, costly))}) on a 2-core CPU."


def _with_out(command: str, out: str) -> str:
    """`command` writing `out`: the directory the next stage reads, whatever this one was called."""
    if re.search(r"--out\s+\S+", command):
        return re.sub(r"--out\s+\S+", lambda _: f"--out {out}", command, count=1)
    return f"{command} --out {out}"


def _same(a: Any, b: Any) -> bool:
    return bool(a and b) and Path(str(a)).resolve() == Path(str(b)).resolve()
