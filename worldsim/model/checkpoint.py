"""Checkpoints: `model.safetensors` + `config.json`, never pickle.

config.json holds the format version, the model config (domain, spaces, sizes), the training
recipe and measured metrics. Loading checks all of it and raises `CheckpointError` naming the file
and the mismatch. Files are written under temporary names and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from worldsim import domains
from worldsim.model.config import FORMAT_VERSION, READABLE, ModelConfig
from worldsim.model.world_model import WorldModel

FORMAT = "worldsim-model"
WEIGHTS, CONFIG = "model.safetensors", "config.json"
SHIPPED = Path(__file__).resolve().parent.parent / "weights"  # worldsim/weights/<domain>/


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded; the message names the file and what is wrong."""


def weights_fingerprint(model: WorldModel) -> str:
    """A short hash of a model's weights and buffers: what a file made from the model (a text model
    trained beside it, an exported graph) records, so that it is never used with another model."""
    return _fingerprint(model.state_dict().items())


def latents_fingerprint(model: WorldModel) -> str:
    """A short hash of what a model's latents mean: its weights and buffers but the decoder's. A
    text model reads and makes latents; how they are drawn does not change what they mean, so it
    stays bound to a model whose decoder alone was refitted (scripts/refit_decoder.py), and a new
    encoder or new dynamics break the binding."""
    return _fingerprint((name, t) for name, t in model.state_dict().items() if not name.startswith("decoder."))


def _fingerprint(tensors) -> str:
    digest = hashlib.sha256()
    for name, tensor in tensors:
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """An optimiser's per-parameter state as flat tensors ("opt.<index>.<name>"), for a safetensors
    file beside a resumable run (its param_groups are plain numbers: they go to JSON)."""
    state = optimizer.state_dict()["state"]
    return {f"opt.{i}.{k}": v for i, s in state.items() for k, v in s.items() if torch.is_tensor(v)}


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    """The inverse of `optimizer_tensors`: the state read back from `tensors` (other keys are
    ignored), with `groups` as the optimiser's param_groups."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_model(model: WorldModel, directory: str | Path, recipe: dict | None = None, metrics: dict | None = None) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_tensors(directory / WEIGHTS, model.state_dict(), metadata={"format": FORMAT})
    write_json(
        directory / CONFIG,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": model.config.to_json(),
            "recipe": recipe or {},
            "metrics": metrics or {},
        },
    )
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{path}: not found (a checkpoint is a directory with {WEIGHTS} and {CONFIG})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a WorldSim model config (format is not {FORMAT!r})")
    version = data.get("format_version")
    if version not in READABLE:
        readable = ", ".join(str(v) for v in sorted(READABLE))
        raise CheckpointError(
            f"{path}: format_version {version!r}, this WorldSim reads versions {readable}; "
            "retrain the model with this release (`worldsim train`)"
        )
    if isinstance(data.get("model"), dict):  # fill in what an older version's config lacks
        data["model"] = {**READABLE[version], **data["model"]}
    return data


def resolve_checkpoint(ref: str | Path) -> Path:
    """A checkpoint directory from a path (a run directory, its checkpoint/, or config.json), or a
    built-in domain name for the weights shipped with WorldSim."""
    path = Path(ref)
    if path.name == CONFIG:
        path = path.parent
    if path.is_dir():
        return path
    if str(ref) in domains.names():
        shipped = SHIPPED / str(ref)
        if not (shipped / CONFIG).is_file():
            raise CheckpointError(f"no shipped weights for {ref!r} in this install ({shipped} is missing)")
        return shipped
    raise CheckpointError(f"{ref}: not a checkpoint directory, and not a built-in domain ({', '.join(domains.names())})")


def load_model(directory: str | Path, domain: str | None = None) -> tuple[WorldModel, dict[str, Any]]:
    """The model in `directory` and its config.json; `domain`, if given, must match."""
    directory = Path(directory)
    data = read_config(directory)
    try:
        config = ModelConfig.from_json(data["model"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{directory / CONFIG}: invalid model section ({exc})") from None
    if domain is not None and config.domain != domain:
        raise CheckpointError(f"{directory / CONFIG}: a {config.domain!r} model, not {domain!r}")
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: not found")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights}: unreadable or corrupt ({exc})") from None
    model = WorldModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:5])}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:5])}")
        if wrong:
            details.append(
                "shape of " + ", ".join(f"{k} {tuple(tensors[k].shape)} != {tuple(expected[k].shape)}" for k in wrong[:5])
            )
        raise CheckpointError(f"{weights}: does not match {directory / CONFIG} ({'; '.join(details)})")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    model.eval()
    return model, data
