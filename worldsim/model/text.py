"""The shared text + scene space: a subword tokenizer and a small text encoder trained from scratch,
and the world model's latent projected into the same space.

    caption ──Tokenizer──► ids ──TextEncoder (transformer, mean pool)──► t ─┐   cosine
    frames ──WorldModel.encode──► latent ──SceneEncoder (MLP)──────────► s ─┘   similarity
                                        t or s ──attribute heads──► the attributes it holds
                                        t, noise ──SceneGenerator──► a start latent (model/scene.py)

Both sides land on the unit sphere of `shared_dim` dimensions. One set of attribute heads reads
either side, so "what the model understood from a prompt" (heads on t) and "how the model describes
a real scene" (heads on s, the describe half of the draw/describe comparison) are read the same
way. Saved beside a world model's weights as `text.safetensors` and `text.json` (its config, the
tokenizer's own JSON and the training report); never pickle.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from worldsim.model.networks import mlp
from worldsim.model.scene import SceneGenerator

if TYPE_CHECKING:
    from worldsim.model.world_model import WorldModel

TEXT_FORMAT_VERSION = 1
PAD, UNK = "[PAD]", "[UNK]"
NUMBER = re.compile(r"\d+(?:\.\d+)?")
NUMBER_SCALE = 100.0  # numbers are seen as value / this: the domains' numbers lie within 0-120


class Tokenizer:
    """Byte-pair subwords learned from the captions (`tokenizers`), lower-cased: words a caption
    never used still split into known pieces ("rightmost" -> "right" + "most")."""

    def __init__(self, inner):
        self.inner = inner
        self.pad_id = inner.token_to_id(PAD)

    @classmethod
    def train(cls, texts: list[str], vocab_size: int) -> Tokenizer:
        from tokenizers import Tokenizer as Inner
        from tokenizers import models, normalizers, pre_tokenizers, trainers

        inner = Inner(models.BPE(unk_token=UNK))
        inner.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        inner.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)]
        )
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK], show_progress=False)
        inner.train_from_iterator(texts, trainer)
        return cls(inner)

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        from tokenizers import Tokenizer as Inner

        return cls(Inner.from_str(text))

    def to_json(self) -> str:
        return self.inner.to_str()

    @property
    def vocab_size(self) -> int:
        return self.inner.get_vocab_size()

    def tokens(self, text: str) -> list[str]:
        return self.inner.encode(text).tokens

    def __call__(self, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, T) token ids and (N, T) bool mask of real tokens, cut to `max_tokens`."""
        encoded = [e.ids[:max_tokens] for e in self.inner.encode_batch(list(texts))]
        longest = max(1, max(len(ids) for ids in encoded))
        ids = torch.full((len(encoded), longest), self.pad_id, dtype=torch.long)
        for i, row in enumerate(encoded):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids, ids != self.pad_id

    def numbers(self, texts: list[str], max_tokens: int) -> torch.Tensor:
        """(N, T) the value of the number each token is part of (NaN for other tokens), aligned with
        the ids `__call__` gives: digits are single tokens, so both tokens of "35" carry 35."""
        texts = list(texts)
        encoded = self.inner.encode_batch(texts)
        longest = max(1, max(min(len(e.ids), max_tokens) for e in encoded))
        values = torch.full((len(encoded), longest), math.nan)
        for i, (text, e) in enumerate(zip(texts, encoded, strict=True)):
            spans = [(m.start(), m.end(), float(m.group())) for m in NUMBER.finditer(text)]
            for j, (start, _) in enumerate(e.offsets[:max_tokens]):
                for low, high, value in spans:
                    if low <= start < high:
                        values[i, j] = value
        return values


def number_features(values: torch.Tensor, count: int) -> torch.Tensor:
    """(..., T) values (NaN: not a number) -> (..., T, 2 * count + 1): the value over `NUMBER_SCALE`
    and its sines and cosines at `count` octaves, zero for tokens that are no number. Digit tokens
    alone left "a car 35 m ahead" read within 5 m in 0.56 of held-out captions: a transformer this
    small learns place value slowly, where a number's size, given, is a feature a head reads off."""
    known = ~torch.isnan(values)
    u = torch.where(known, values, torch.zeros_like(values)) / NUMBER_SCALE
    angles = u[..., None] * math.pi * (2.0 ** torch.arange(count, dtype=u.dtype, device=u.device))
    features = torch.cat([u[..., None], torch.sin(angles), torch.cos(angles)], -1)
    return features * known[..., None]


@dataclass
class TextConfig:
    domain: str
    latent_dim: int  # the world model's latent: the scene side's input
    # attribute name -> classes (a category) or 0 (a number, regressed on [low, high] scaled to [0, 1])
    attributes: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, list[float]] = field(default_factory=dict)  # numbers: [low, high]
    # numbers: the tolerance they hold within; the heads learn them in its units (scene_guide.reading_loss).
    # Empty in text models trained before: they learnt numbers in units of the whole range.
    tolerances: dict[str, float] = field(default_factory=dict)
    vocab_size: int = 400
    max_tokens: int = 48
    width: int = 128
    layers: int = 2
    heads: int = 4
    shared_dim: int = 64
    code_dim: int = 16  # the scene generator's noise: what a prompt leaves open
    # octaves of each number's value added to its digit tokens (`number_features`); 0: numbers are
    # their digit tokens alone, as in text models trained before
    number_features: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TextEncoder(nn.Module):
    """Token ids -> a unit vector: embeddings and learned positions, a pre-norm transformer, the mean
    over real tokens, a linear map into the shared space."""

    def __init__(self, config: TextConfig, vocab_size: int):
        super().__init__()
        c = config
        self.embed = nn.Embedding(vocab_size, c.width)
        self.position = nn.Parameter(torch.zeros(c.max_tokens, c.width))
        layer = nn.TransformerEncoderLayer(c.width, c.heads, 2 * c.width, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, c.shared_dim))
        self.octaves = c.number_features
        self.number = nn.Linear(2 * c.number_features + 1, c.width) if c.number_features else None

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, numbers: torch.Tensor | None = None) -> torch.Tensor:
        """`numbers`: (N, T) the value of the number each token is part of (`Tokenizer.numbers`), used
        where the encoder was built with `number_features`."""
        x = self.embed(ids) + self.position[: ids.shape[1]]
        if self.number is not None:
            if numbers is None:
                raise ValueError("this text encoder reads numbers' values: give the (N, T) values of Tokenizer.numbers")
            x = x + self.number(number_features(numbers.to(x.device), self.octaves))
        x = self.body(x, src_key_padding_mask=~mask)
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return F.normalize(self.out(pooled), dim=-1)


class SharedSpace(nn.Module):
    def __init__(self, config: TextConfig, tokenizer: Tokenizer):
        super().__init__()
        self.config, self.tokenizer = config, tokenizer
        self.text = TextEncoder(config, tokenizer.vocab_size)
        self.scene = mlp(config.latent_dim, 2 * config.width, config.shared_dim)
        self.log_scale = nn.Parameter(torch.tensor(2.6))  # the similarity temperature, learned (CLIP's start, ~1/0.07)
        self.heads = nn.ModuleDict({name: nn.Linear(config.shared_dim, max(n, 1)) for name, n in config.attributes.items()})
        self.generator = SceneGenerator(config.latent_dim, config.shared_dim, config.code_dim)

    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        """(N,) strings -> (N, shared_dim) unit vectors."""
        ids, mask = self.tokenizer(texts, self.config.max_tokens)
        device = self.log_scale.device
        numbers = self.tokenizer.numbers(texts, self.config.max_tokens) if self.config.number_features else None
        return self.text(ids.to(device), mask.to(device), numbers)

    def embed_scenes(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) world-model latents -> (N, shared_dim) unit vectors."""
        return F.normalize(self.scene(latents.to(self.log_scale.device)), dim=-1)

    def similarity(self, texts: torch.Tensor, scenes: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=100) * texts @ scenes.T

    def number_scales(self) -> dict[str, float]:
        """Each number's tolerance in the heads' [0, 1] units: what `reading_loss` scores it in."""
        c = self.config
        return {name: t / (c.ranges[name][1] - c.ranges[name][0]) for name, t in c.tolerances.items()}

    def read_attributes(self, embedded: torch.Tensor) -> dict[str, torch.Tensor]:
        """Attribute name -> (N, classes) logits, or (N,) a number scaled to [0, 1]."""
        return {
            name: head(embedded).squeeze(-1) if self.config.attributes[name] == 0 else head(embedded)
            for name, head in self.heads.items()
        }

    def attribute_values(self, embedded: torch.Tensor, values: dict[str, tuple[str, ...]]) -> list[dict[str, str | float]]:
        """Per row, every attribute's most likely value (categories by name, numbers in their units)."""
        read = self.read_attributes(embedded)
        rows: list[dict[str, str | float]] = [{} for _ in range(len(embedded))]
        for name, out in read.items():
            if self.config.attributes[name] == 0:
                low, high = self.config.ranges[name]
                for row, v in zip(rows, out.tolist(), strict=True):
                    row[name] = low + v * (high - low)
            else:
                for row, k in zip(rows, out.argmax(-1).tolist(), strict=True):
                    row[name] = values[name][k]
        return rows


def save_shared_space(
    space: SharedSpace, out: str | Path, report: dict[str, Any] | None = None, world_model: WorldModel | None = None
) -> None:
    """`text.safetensors` and `text.json` in `out`, each written to a temporary name and renamed.
    `world_model` is the model whose latents the space was trained on: the fingerprint of what its
    latents mean is recorded (`latents_fingerprint`: every weight but the decoder's), and
    `load_shared_space` refuses the space beside any other model (a retrained one included)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in space.state_dict().items()}
    tmp = out / "text.safetensors.tmp"
    save_file(weights, str(tmp))
    tmp.replace(out / "text.safetensors")
    meta = {
        "format": "worldsim-text",
        "format_version": TEXT_FORMAT_VERSION,
        "config": space.config.to_json(),
        "tokenizer": json.loads(space.tokenizer.to_json()),
        "report": report or {},
    }
    if world_model is not None:
        from worldsim.model.checkpoint import latents_fingerprint

        meta["world_model_latents"] = latents_fingerprint(world_model)
    tmp = out / "text.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    tmp.replace(out / "text.json")


class TextModelError(ValueError):
    """A missing or unusable text model; the message names the file."""


def load_shared_space(
    directory: str | Path, device: str | torch.device = "cpu", world_model: WorldModel | None = None
) -> tuple[SharedSpace, dict[str, Any]]:
    """The text model in `directory`; with `world_model`, checked to have been trained beside it."""
    directory = Path(directory)
    meta_path, weights_path = directory / "text.json", directory / "text.safetensors"
    if not meta_path.is_file() or not weights_path.is_file():
        raise TextModelError(f"{directory}: no text model (text.json and text.safetensors); train one with `worldsim train-text`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise TextModelError(f"{meta_path}: not valid JSON ({error})") from None
    if meta.get("format") != "worldsim-text" or meta.get("format_version") != TEXT_FORMAT_VERSION:
        raise TextModelError(
            f"{meta_path}: format {meta.get('format')!r} version {meta.get('format_version')!r}; "
            f"this release reads worldsim-text version {TEXT_FORMAT_VERSION}"
        )
    if world_model is not None:
        from worldsim.model.checkpoint import latents_fingerprint, weights_fingerprint

        # text models saved before the decoder was left out of the binding record every weight
        recorded, fingerprint = meta.get("world_model_latents"), latents_fingerprint
        if recorded is None:
            recorded, fingerprint = meta.get("world_model"), weights_fingerprint
        if recorded and recorded != fingerprint(world_model):
            raise TextModelError(
                f"{meta_path}: trained beside another world model than the one in {directory} (weights "
                f"{recorded}, not {fingerprint(world_model)}); its latents mean something else "
                "to this model: train it again with `worldsim train-text`"
            )
    space = SharedSpace(TextConfig(**meta["config"]), Tokenizer.from_json(json.dumps(meta["tokenizer"])))
    try:
        space.load_state_dict(load_file(str(weights_path)))
    except (RuntimeError, OSError) as error:
        raise TextModelError(f"{weights_path}: does not match {meta_path} ({error})") from None
    return space.to(device).eval(), meta.get("report", {})
