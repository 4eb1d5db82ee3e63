"""Scenario files: YAML descriptions of a reproducible situation in one domain.

A scenario fixes how an episode starts (and, for driving, scripted events such as a cut-in or a
hard brake at a given step). Files are validated against `scenario_schema.json`; any problem is a
`ScenarioError` naming the file and the field.

Scenarios are referred to by path, or by name: `cut_in` finds `scenarios/driving/cut_in.yaml` in
the directories listed in `$WORLDSIM_SCENARIOS` (separated by os.pathsep) and in the repository's
own `scenarios/` folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Scenario:
    name: str
    domain: str
    seed: int
    path: Path
    description: str = ""
    max_steps: int | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # the domain-specific part of the file

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "domain": self.domain, "seed": self.seed, "path": str(self.path)}


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("worldsim").joinpath("scenario_schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("WORLDSIM_SCENARIOS", "").split(os.pathsep) if p]
    return extra + [REPO_SCENARIOS]


def available_scenarios() -> dict[str, Path]:
    """Scenario name -> file, over the search path (earlier directories win)."""
    found: dict[str, Path] = {}
    for root in search_path():
        for path in sorted(root.glob("**/*.yaml")) if root.is_dir() else []:
            if "prompts" not in path.relative_to(root).parts:  # prompt sets live beside scenarios
                found.setdefault(path.stem, path)
    return found


def resolve(ref: str | os.PathLike) -> Path:
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{path}: scenario file not found")
        return path
    known = available_scenarios()
    if str(ref) not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ScenarioError(f"unknown scenario {str(ref)!r}: not a file, and not one of: {names}")
    return known[str(ref)]


def load_scenario(ref: str | os.PathLike) -> Scenario:
    path = resolve(ref)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario file must be a mapping of fields, got {type(data).__name__}")

    errors = sorted(_validator().iter_errors(data), key=lambda e: (len(e.absolute_path), e.message))
    if errors:
        # The deepest error is the most specific one (the field, not "does not match allOf").
        err = max(errors, key=lambda e: len(e.absolute_path))
        where = _field_name(err.absolute_path) or "(top level)"
        raise ScenarioError(f"{path}: field {where}: {err.message}")
    if data["name"] != path.stem:
        raise ScenarioError(f"{path}: field name: {data['name']!r} must match the file name {path.stem!r}")
    _check_references(path, data)

    common = ("name", "domain", "seed", "description", "max_steps")
    return Scenario(
        name=data["name"],
        domain=data["domain"],
        seed=int(data["seed"]),
        path=path.resolve(),
        description=data.get("description", ""),
        max_steps=data.get("max_steps"),
        spec={k: v for k, v in data.items() if k not in common},
    )


def _field_name(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _check_references(path: Path, data: dict[str, Any]) -> None:
    """Cross-field rules a JSON schema cannot express."""
    ids = [v["id"] for v in data.get("vehicles", [])]
    for i, vid in enumerate(ids):
        if vid in ids[:i] or vid in ("ego", "all"):
            raise ScenarioError(f"{path}: field vehicles[{i}].id: {vid!r} is reserved or used twice")
    for i, vehicle in enumerate(data.get("vehicles", [])):
        numbered = isinstance(vehicle["lane"], int)
        if numbered and "position" in vehicle:
            raise ScenarioError(f"{path}: field vehicles[{i}].position: use offset with a numbered lane")
        if not numbered and "offset" in vehicle:
            raise ScenarioError(f"{path}: field vehicles[{i}].offset: use position with a [from, to, id] lane")
    for i, event in enumerate(data.get("events", [])):
        if event["vehicle"] not in ids and event["vehicle"] != "all":
            raise ScenarioError(
                f"{path}: field events[{i}].vehicle: {event['vehicle']!r} is not a vehicle of this "
                f"scenario (known: {', '.join(ids + ['all'])})"
            )
    max_steps = data.get("max_steps")
    for i, event in enumerate(data.get("events", [])):
        if max_steps is not None and event["at_step"] >= max_steps:
            raise ScenarioError(f"{path}: field events[{i}].at_step: {event['at_step']} is not before max_steps {max_steps}")
