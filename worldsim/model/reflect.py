"""Reflection's conditioning path: a small network that turns a scene that missed its prompt, and
the verifier's critique of it, into the scene generator's code for a better one.

    prompt ─► t ─┐
    candidate's code c ─┼─► Reflector ─► c' = c + Δ(t, c, critique) ──SceneGenerator(t, c')──► next candidate
    critique ────┘      (which asked attributes failed, and by how much)

The critique is a fixed-width vector per domain (`critique`): for each attribute of the domain's
table, whether the prompt asked for it and whether it failed, then for a number the signed miss in
units of its range, for a category the value the candidate has instead (one-hot). It is built from
the verifier's reading of the candidate, so the search can reflect on what the scene claims (its
state) or on what it shows (its frame read back).

Training (`train_reflector`) needs no new data: the captions and real scenes the text model learnt
from. For a caption of a real scene, the generator's encoder gives the code that rebuilds that scene
(a code whose scene holds the caption); a candidate code (a fresh draw, or that code shaken) is
decoded, read and critiqued, and the reflector learns to move it to the rebuilding code and, as
the text model's attribute heads read the moved scene, to where the asked attributes hold. The text
model stays frozen; the reflector ships beside it (`reflect.safetensors`, `reflect.json`) with the
text model's fingerprint, and is refused beside any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from worldsim.language.attributes import AttributeTable
from worldsim.language.captions import caption
from worldsim.model.checkpoint import weights_fingerprint
from worldsim.model.networks import mlp

if TYPE_CHECKING:
    from worldsim.model.text import SharedSpace
    from worldsim.model.text_training import Scenes
    from worldsim.model.world_model import WorldModel

REFLECT_FORMAT_VERSION = 1


def _width(attribute) -> int:
    """An attribute's part of a critique: asked, failed, then a number's miss or a category's value."""
    return 3 if attribute.numeric else 2 + len(attribute.values)


def critique_width(table: AttributeTable) -> int:
    return sum(_width(a) for a in table.attributes)


def failed_attributes(table: AttributeTable, row: np.ndarray) -> list[str]:
    """The names of the attributes one critique row marks as asked and failed."""
    starts = np.cumsum([0] + [_width(a) for a in table.attributes])
    return [a.name for a, at in zip(table.attributes, starts, strict=False) if row[at] and row[at + 1]]


def critique(table: AttributeTable, asked: Mapping[str, str | float], readings: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, critique_width) float32: the critique of N candidates whose attribute `readings` (the
    verifier's, `AttributeTable.read`) are judged against the `asked` values."""
    n = len(next(iter(readings.values())))
    parts = []
    for a in table.attributes:
        read = np.asarray(readings[a.name], dtype=np.float64)
        block = np.zeros((n, _width(a)), np.float32)
        if a.name in asked:
            value = asked[a.name]
            block[:, 0] = 1.0
            block[:, 1] = ~a.holds(value, read)
            if a.numeric:  # the miss in units of the range; undefined (NaN) reads as no number at all
                span = max(a.high - a.low, 1e-6)
                block[:, 2] = np.nan_to_num(np.clip((read - float(value)) / span, -1, 1), nan=0.0)
            else:
                defined = read >= 0
                block[np.flatnonzero(defined), 2 + read[defined].astype(int)] = 1.0
        parts.append(block)
    return np.concatenate(parts, 1)


class Reflector(nn.Module):
    def __init__(self, shared_dim: int, code_dim: int, critique_dim: int, width: int = 256):
        super().__init__()
        self.shared_dim, self.code_dim, self.critique_dim, self.width = shared_dim, code_dim, critique_dim, width
        self.net = mlp(shared_dim + code_dim + critique_dim, width, code_dim, layers=3)

    def forward(self, texts: torch.Tensor, codes: torch.Tensor, critiques: torch.Tensor) -> torch.Tensor:
        """The next candidate's code from each candidate's `codes` (N, code_dim), its prompt's
        embedding `texts` (N, D) and its `critiques` (N, critique_dim)."""
        return codes + self.net(torch.cat([texts, codes, critiques], -1))

    def to_json(self) -> dict[str, int]:
        return {"shared_dim": self.shared_dim, "code_dim": self.code_dim, "critique_dim": self.critique_dim, "width": self.width}


@dataclass
class ReflectTrainConfig:
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    shaken: float = 0.5  # share of candidates drawn near the rebuilding code (the rest: fresh draws)
    shake: tuple[float, float] = (0.3, 1.5)  # the noise scale those are shaken by, uniform in this range
    # weight of the second term: the text model's attribute heads reading the moved scene, against
    # what the caption asked (a differentiable stand-in for the verifier)
    heads: float = 5.0
    seed: int = 0


def train_reflector(
    model: WorldModel, space: SharedSpace, table: AttributeTable, scenes: Scenes, config: ReflectTrainConfig, progress: bool
) -> tuple[Reflector, list[float]]:
    from worldsim.model.text_training import _labels, attribute_loss

    generator = space.generator
    space.requires_grad_(False)  # the text model stays as it shipped; only the reflector learns
    reflector = Reflector(space.config.shared_dim, generator.code_dim, critique_width(table)).to(model.device)
    optimizer = torch.optim.AdamW(reflector.parameters(), lr=config.lr, weight_decay=1e-4)
    rng = np.random.default_rng(config.seed)
    noise_source = torch.Generator().manual_seed(config.seed)
    fields = model.config.state_fields
    losses = []
    for _ in tqdm(range(config.steps), desc="train reflector", unit="step", disable=not progress):
        rows = rng.choice(len(scenes), size=min(config.batch_size, len(scenes)), replace=False)
        captions = [caption(table, scenes.values(table, int(i)), rng) for i in rows]
        with torch.no_grad():
            texts = space.embed_texts([text for text, _ in captions])
            real = (scenes.latents[rows].to(texts.device) - generator.latent_mean) / generator.latent_std
            target = generator.encoder(torch.cat([real, texts], -1)).chunk(2, -1)[0]  # the rebuilding code
            fresh = torch.randn(target.shape, generator=noise_source).to(target.device)
            scale = torch.from_numpy(rng.uniform(*config.shake, size=(len(rows), 1)).astype(np.float32)).to(target.device)
            near = torch.from_numpy(rng.random(len(rows)) < config.shaken).to(target.device)[:, None]
            codes = torch.where(near, target + scale * fresh, fresh)
            states = model.physical_state(model.settle(generator.sample(texts, codes).to(model.device))).cpu().numpy()
            readings = table.read(states, fields)
            rows_read = [{k: v[j : j + 1] for k, v in readings.items()} for j in range(len(rows))]
            critiques = np.concatenate([critique(table, stated, r) for (_, stated), r in zip(captions, rows_read, strict=True)])
        moved = reflector(texts, codes, torch.from_numpy(critiques).to(texts.device))
        loss = ((moved - target) ** 2).mean()
        if config.heads:
            scenes_moved = space.embed_scenes(model.settle(generator.sample(texts, moved).to(model.device)))
            asked = _labels(table, [stated for _, stated in captions], space.config)
            loss = loss + config.heads * attribute_loss(space, scenes_moved, asked)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return reflector.eval(), losses


def save_reflector(reflector: Reflector, space: SharedSpace, out: str | Path, report: dict[str, Any]) -> None:
    """`reflect.safetensors` and `reflect.json` in `out`, each written to a temporary name and renamed."""
    out = Path(out)
    tmp = out / "reflect.safetensors.tmp"
    save_file({k: v.detach().cpu().contiguous() for k, v in reflector.state_dict().items()}, str(tmp))
    tmp.replace(out / "reflect.safetensors")
    meta = {
        "format": "worldsim-reflect",
        "format_version": REFLECT_FORMAT_VERSION,
        "config": reflector.to_json(),
        "text_model": weights_fingerprint(space),
        "report": report,
    }
    tmp = out / "reflect.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    tmp.replace(out / "reflect.json")


def load_reflector(directory: str | Path, space: SharedSpace, device: str | torch.device = "cpu") -> Reflector:
    """The reflector beside the text model in `directory`, checked to have been trained on `space`."""
    directory = Path(directory)
    meta_path, weights_path = directory / "reflect.json", directory / "reflect.safetensors"
    if not meta_path.is_file() or not weights_path.is_file():
        raise ValueError(
            f"{directory}: no reflector (reflect.json and reflect.safetensors) for search method 'reflect'; "
            "train one with `worldsim train-reflect`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{meta_path}: not valid JSON ({error})") from None
    if meta.get("format") != "worldsim-reflect" or meta.get("format_version") != REFLECT_FORMAT_VERSION:
        raise ValueError(f"{meta_path}: not a worldsim-reflect file of version {REFLECT_FORMAT_VERSION}")
    if meta.get("text_model") != weights_fingerprint(space):
        raise ValueError(
            f"{meta_path}: trained beside another text model than the one in {directory}; "
            "train it again with `worldsim train-reflect`"
        )
    reflector = Reflector(**meta["config"])
    try:
        reflector.load_state_dict(load_file(str(weights_path)))
    except (RuntimeError, OSError) as error:
        raise ValueError(f"{weights_path}: does not match {meta_path} ({error})") from None
    return reflector.to(device).eval()


def train_reflector_for(checkpoint: str, data: str, config: ReflectTrainConfig, progress: bool = True) -> dict[str, Any]:
    """`worldsim train-reflect`: the reflector for the world model and text model in `checkpoint`,
    trained on the scenes of `data`'s training split, written beside them."""
    from worldsim import domains
    from worldsim.data import Dataset
    from worldsim.model.checkpoint import load_model, resolve_checkpoint
    from worldsim.model.text import load_shared_space
    from worldsim.model.text_training import collect_scenes, trained_config

    path = resolve_checkpoint(checkpoint)
    model, _ = load_model(path)
    space, text_report = load_shared_space(path, model.device, model)
    dataset = Dataset(data)
    if dataset.domain != model.config.domain:
        raise ValueError(f"{dataset.root} holds {dataset.domain!r} data; the model is a {model.config.domain!r} model")
    text = trained_config(text_report)
    table = domains.of_model(model.config.domain).load("attributes")
    torch.manual_seed(config.seed)
    scenes = collect_scenes(model, dataset, dataset.indices("train", text.val_fraction), text.context, text.every, progress)
    reflector, losses = train_reflector(model, space, table, scenes, config, progress)
    n = max(1, len(losses) // 10)
    report = {
        "config": asdict(config),
        "data": str(data),
        "scenes": len(scenes),
        "loss": {"first": float(np.mean(losses[:n])), "last": float(np.mean(losses[-n:]))},
    }
    save_reflector(reflector, space, path, report)
    return report
