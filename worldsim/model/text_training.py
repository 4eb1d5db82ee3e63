"""Training the shared text + scene space contrastively, and scoring its retrieval on held-out episodes.

Scenes are the world model's latents after a few real frames (`WorldModel.encode` over `context`
frames, one scene every `every` steps of each episode). Each training step draws a fresh caption for
every scene in the batch (`worldsim.language.captions`: a random subset of its attributes in random
words), so the text side learns attributes, not sentences. A caption usually fits many scenes ("the
block upside down"), so the contrastive loss counts as positives every scene in the batch its stated
attributes hold on, not only the one it was written from (multi-positive InfoNCE, both directions).
The attribute heads learn every defined attribute from the scene side and the stated ones from the
text side.

Retrieval is scored on held-out episodes in pools of `pool` scenes, each captioned with all its
defined attributes: text -> scene and scene -> text recall@1/5, exact (the very scene or caption)
and by match (a retrieved scene its caption holds on), each beside its chance level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from worldsim import domains
from worldsim.data import Dataset
from worldsim.language.attributes import AttributeTable
from worldsim.language.captions import caption
from worldsim.model.scene import SceneGenerator, check_can_draw_from_latent
from worldsim.model.scene_guide import (
    StateBank,
    dreamt_infeasibility,
    guidance_loss,
    reading_loss,
    train_attribute_reader,
)
from worldsim.model.text import SharedSpace, TextConfig, Tokenizer, load_shared_space, save_shared_space
from worldsim.model.world_model import WorldModel


@dataclass
class TextTrainConfig:
    steps: int = 1500
    batch_size: int = 128
    lr: float = 1e-3
    context: int = 4  # real frames behind each scene's latent
    every: int = 5  # one scene per this many steps of an episode
    val_fraction: float = 0.1
    pool: int = 100  # retrieval candidates per query
    corpus: int = 20000  # captions the tokenizer learns its subwords from
    vocab_size: int = 400  # the most subwords it keeps
    attribute_weight: float = 1.0
    generator_steps: int = 1500  # the scene generator's, after the shared space's (on its frozen text side)
    # Weight of the generator's KL term: how much of a scene its code may carry that the caption
    # does not say. Low, the code carries the stated attributes too, and a fresh code contradicts them.
    generator_kl: float = 0.05
    # Weight of the attribute reader's verdict on scenes generated from fresh codes
    # (worldsim.model.scene_guide); 0 trains the generator as a plain conditional VAE.
    guidance: float = 1.0
    # Weight of the same verdict on the state the model's frame reader reads back off the frame
    # drawn of each generated scene: holds the words where the frame shows them.
    frame_guidance: float = 0.0
    # Weight of a generated state's distance past the real scenes' own to its nearest real state
    # (worldsim.model.scene_guide.StateBank): guided scenes stay like real ones.
    manifold: float = 0.0
    # Weight of how far generated states lie into states no scene can start in (the domain's
    # `infeasibility`; driving: a car on the ego, which a conditional VAE makes by averaging a car
    # ahead and one behind).
    feasibility: float = 0.0
    # With `feasibility`, the dreamt steps of a fresh scene left to itself also charged: this many
    # from its start (`scene_guide.dreamt_infeasibility`). 0 charges the start alone.
    feasibility_steps: int = 0
    # The reader's safeguards, on unless switched off (the generators shipped for driving and games
    # were trained without them; PushT's with them): it sees only the fields the table's rules read,
    # and judges a state beyond the span of real ones at the span's edge.
    reader_all_fields: bool = False
    reader_unclamped: bool = False
    reader_steps: int = 1500  # the attribute reader's, before the generator's
    reader_jitter: float = 1.0  # how far around real state codes the reader learns the rules (their stds)
    # Numbers (driving's speed and gap) learnt by the heads and the reader in units of their whole
    # range, as the text models trained before were, rather than of their tolerance (reading_loss).
    numbers_in_range: bool = False
    # Octaves of each number's value the text encoder adds to its digit tokens (model/text.py
    # `number_features`); 0: the digits alone, as in the text models trained before.
    number_features: int = 8
    seed: int = 0


@dataclass
class Scenes:
    latents: torch.Tensor  # (N, L)
    readings: dict[str, np.ndarray]  # attribute -> (N,)
    episodes: np.ndarray  # (N,) the episode each scene comes from

    def __len__(self) -> int:
        return len(self.latents)

    def values(self, table: AttributeTable, i: int) -> dict[str, str | float | None]:
        return {name: table.value_of(name, self.readings[name][i]) for name in table.names}

    def holds(self, table: AttributeTable, stated: dict[str, str | float], rows: np.ndarray) -> np.ndarray:
        """(len(rows),) bool: does every stated attribute hold on each scene of `rows`?"""
        ok = np.ones(len(rows), dtype=bool)
        for name, value in stated.items():
            ok &= table[name].holds(value, self.readings[name][rows])
        return ok


@torch.no_grad()
def collect_scenes(model: WorldModel, data: Dataset, indices: list[int], context: int, every: int, progress: bool) -> Scenes:
    table = domains.of_model(model.config.domain).load("attributes")
    latents, states, episodes = [], [], []
    for index in tqdm(indices, desc="encode scenes", unit="episode", disable=not progress):
        episode = data.episode(index)
        ends = np.arange(context - 1, len(episode.frames), every)
        if not len(ends):
            continue
        frames = torch.from_numpy(np.stack([episode.frames[t - context + 1 : t + 1] for t in ends]))
        actions = torch.from_numpy(np.stack([episode.actions[t - context + 1 : t] for t in ends]))
        latents.append(model.encode(frames, actions, fit=False).cpu())  # read, not dreamt from: no frame fit
        states.append(episode.states[ends])
        episodes.append(np.full(len(ends), index))
    if not latents:
        raise ValueError(f"{data.root}: no episode has {context} frames for a scene")
    readings = table.read(np.concatenate(states), model.config.state_fields)
    return Scenes(torch.cat(latents), readings, np.concatenate(episodes))


def split_scenes(model: WorldModel, data: Dataset, config: TextTrainConfig, progress: bool) -> tuple[Scenes, Scenes]:
    """The training and held-out scenes of `data`, cut as `config` says (context, every, val_fraction)."""
    if data.domain != model.config.domain:
        raise ValueError(f"{data.root} holds {data.domain!r} data; the model is a {model.config.domain!r} model")
    model.eval()
    cut = [
        collect_scenes(model, data, data.indices(split, config.val_fraction), config.context, config.every, progress)
        for split in ("train", "val")
    ]
    return cut[0], cut[1]


def trained_config(report: dict[str, Any]) -> TextTrainConfig:
    """The settings a text model was trained with, read back from its report (defaults where it has none;
    reports that predate `numbers_in_range` and `number_features` learnt numbers in units of their
    range, from their digit tokens alone)."""
    known = TextTrainConfig.__dataclass_fields__
    recorded = {"numbers_in_range": True, "number_features": 0, **report.get("config", {})}
    return TextTrainConfig(**{k: v for k, v in recorded.items() if k in known})


def text_config_for(
    model: WorldModel, table: AttributeTable, vocab_size: int, in_tolerances: bool = True, number_features: int = 0
) -> TextConfig:
    numbers = [a for a in table.attributes if a.numeric]
    return TextConfig(
        domain=model.config.domain,
        latent_dim=model.config.latent_dim,
        attributes={a.name: 0 if a.numeric else len(a.values) for a in table.attributes},
        ranges={a.name: [a.low, a.high] for a in numbers},
        tolerances={a.name: a.tolerance for a in numbers} if in_tolerances else {},
        vocab_size=vocab_size,
        number_features=number_features if numbers else 0,
    )


def _labels(table: AttributeTable, rows: list[dict[str, Any]], config: TextConfig) -> dict[str, torch.Tensor]:
    """Per attribute: class indices (-1 unknown) or numbers scaled to [0, 1] (NaN unknown)."""
    labels = {}
    for a in table.attributes:
        if a.numeric:
            low, high = config.ranges[a.name]
            v = [(r[a.name] - low) / (high - low) if r.get(a.name) is not None else math.nan for r in rows]
            labels[a.name] = torch.tensor(v, dtype=torch.float32)
        else:
            labels[a.name] = torch.tensor([a.values.index(r[a.name]) if r.get(a.name) is not None else -1 for r in rows])
    return labels


def attribute_loss(space: SharedSpace, embedded: torch.Tensor, labels: dict[str, torch.Tensor]) -> torch.Tensor:
    return reading_loss(space.read_attributes(embedded), space.config.attributes, labels, space.number_scales())


def multi_positive_nce(similarity: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Both directions: -log of the softmax mass on each row's (and column's) positives."""

    def one_way(s, p):
        return (torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~p, -torch.inf), 1)).mean()

    return 0.5 * (one_way(similarity, positive) + one_way(similarity.T, positive.T))


# calm_action's signature (worldsim.envs.keys): (domain, state fields, states (N, S)) -> the actions
# that leave the scenes to themselves; the callers above the model layer pass it in.
CalmAction = Callable[[str, list[str], np.ndarray], np.ndarray]


def train_shared_space(
    model: WorldModel, data: Dataset, config: TextTrainConfig, progress: bool = True, calm: CalmAction | None = None
) -> tuple[SharedSpace, dict[str, Any]]:
    table = domains.of_model(model.config.domain).load("attributes")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    train_scenes, val_scenes = split_scenes(model, data, config, progress)
    corpus = [
        caption(table, train_scenes.values(table, int(i)), rng)[0] for i in rng.integers(len(train_scenes), size=config.corpus)
    ]
    tokenizer = Tokenizer.train(corpus, config.vocab_size)
    text_config = text_config_for(
        model, table, tokenizer.vocab_size, in_tolerances=not config.numbers_in_range, number_features=config.number_features
    )
    space = SharedSpace(text_config, tokenizer)
    optimizer = torch.optim.AdamW(space.parameters(), lr=config.lr, weight_decay=1e-4)
    losses = []
    for _ in tqdm(range(config.steps), desc="train text", unit="step", disable=not progress):
        rows = rng.choice(len(train_scenes), size=min(config.batch_size, len(train_scenes)), replace=False)
        captions = [caption(table, train_scenes.values(table, int(i)), rng) for i in rows]
        positive = torch.from_numpy(np.stack([train_scenes.holds(table, stated, rows) for _, stated in captions]))
        texts = space.embed_texts([text for text, _ in captions])
        scenes = space.embed_scenes(train_scenes.latents[rows])
        loss = multi_positive_nce(space.similarity(texts, scenes), positive)
        scene_rows = [{k: v for k, v in train_scenes.values(table, int(i)).items() if v is not None} for i in rows]
        loss = loss + config.attribute_weight * (
            attribute_loss(space, scenes, _labels(table, scene_rows, text_config))
            + attribute_loss(space, texts, _labels(table, [stated for _, stated in captions], text_config))
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    space.eval()
    generator_report = train_scene_generator(model, space, table, train_scenes, val_scenes, config, rng, progress, calm)
    report = {
        "config": asdict(config),
        "scenes": {"train": len(train_scenes), "held_out": len(val_scenes)},
        "loss": {"first": _tenth(losses, 0), "last": _tenth(losses, -1)},
        "retrieval": retrieval_report(space, table, val_scenes, config.pool, np.random.default_rng(config.seed + 1)),
        "generator_loss": generator_report.pop("loss"),
        "generator_training": generator_report,
        "generation": generation_report(model, space, table, train_scenes, val_scenes, np.random.default_rng(config.seed + 2)),
    }
    return space, report


def _tenth(values: list[float], which: int) -> float:
    """The mean over the first (which=0) or last (-1) tenth of `values`."""
    n = max(1, len(values) // 10)
    return float(np.mean(values[:n] if which == 0 else values[-n:]))


def train_scene_generator(
    model: WorldModel,
    space: SharedSpace,
    table: AttributeTable,
    scenes: Scenes,
    held_out: Scenes,
    config: TextTrainConfig,
    rng,
    progress: bool,
    calm: CalmAction | None = None,
) -> dict[str, Any]:
    """The conditional VAE from caption embeddings (the trained text side, frozen) to scene latents.
    With `config.guidance` (or `frame_guidance`) > 0 it is also scored on what an attribute reader
    (fitted first, on `scenes`; its agreement with the table's rules measured on `held_out`) finds
    in scenes generated from fresh codes, and with `config.manifold` > 0 on how far those scenes'
    states lie from every real one. Returns the losses' report."""
    if config.frame_guidance > 0:
        check_can_draw_from_latent(model, "--frame-guidance")
        if model.frame_reader is None:
            raise ValueError("--frame-guidance reads the drawn frame back with the model's frame reader; this model has none")
    penalty = None
    if config.feasibility > 0:
        spec = domains.get(model.config.domain)
        if spec.infeasibility is None:
            raise ValueError(f"--feasibility: the {spec.name!r} domain names no states a scene cannot start in")
        penalty = spec.load("infeasibility")
    if config.feasibility_steps and calm is None:
        raise ValueError("--feasibility-steps leaves fresh scenes to themselves: the caller must give the calm action")
    left_alone = None if calm is None else partial(calm, model.config.domain, list(model.config.state_fields))
    generator = space.generator
    generator.fit_normalisation(scenes.latents)
    reader, bank, report = None, None, {}
    codes, held_out_codes = (model.split(x.latents.to(model.device))[0] for x in (scenes, held_out))
    if config.manifold > 0:
        bank = StateBank(codes, held_out_codes)
        report["manifold_radius"] = bank.radius
    if config.guidance > 0 or config.frame_guidance > 0:
        reader, report["reader"] = train_attribute_reader(
            model,
            table,
            space.config.ranges,
            codes,
            held_out_codes,
            steps=config.reader_steps,
            jitter=config.reader_jitter,
            seed=config.seed,
            progress=progress,
            all_fields=config.reader_all_fields,
            in_tolerances=not config.numbers_in_range,
        )
    generator.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:  # the frame path runs through the model's decoder and reader; they only judge
        p.requires_grad_(False)
    optimizer = torch.optim.AdamW(generator.parameters(), lr=config.lr, weight_decay=1e-4)
    noise_source = torch.Generator().manual_seed(config.seed)
    losses, guided = [], []
    for _ in tqdm(range(config.generator_steps), desc="train scene generator", unit="step", disable=not progress):
        rows = rng.choice(len(scenes), size=min(config.batch_size, len(scenes)), replace=False)
        captions = [caption(table, scenes.values(table, int(i)), rng) for i in rows]
        with torch.no_grad():
            texts = space.embed_texts([text for text, _ in captions])
        noise = torch.randn(len(rows), generator.code_dim, generator=noise_source).to(texts.device)
        loss, _ = generator.loss(scenes.latents[rows].to(texts.device), texts, noise, config.generator_kl)
        losses.append(loss.item())
        if reader is not None or bank is not None or penalty is not None:
            # Scenes from fresh codes, as a prompt gets them: judged on the words and on realness.
            fresh = torch.randn(len(rows), generator.code_dim, generator=noise_source).to(texts.device)
            generated = generator.sample(texts, fresh).to(model.device)
            guide = torch.zeros((), device=model.device)
            if reader is not None:
                stated = _labels(table, [values for _, values in captions], space.config)
                if config.guidance > 0:
                    guide = guide + config.guidance * guidance_loss(
                        model, reader, generated, stated, clamp=not config.reader_unclamped
                    )
                if config.frame_guidance > 0:
                    guide = guide + config.frame_guidance * guidance_loss(
                        model, reader, generated, stated, frame=True, clamp=not config.reader_unclamped
                    )
            if bank is not None:
                guide = guide + config.manifold * bank.loss(model.split(generated)[0])
            if penalty is not None:
                state = model.denormalise_state(model.split(generated)[0])
                guide = guide + config.feasibility * penalty(state, model.config.state_fields).mean()
                if config.feasibility_steps:
                    steps = config.feasibility_steps
                    dreamt = dreamt_infeasibility(model, generated, penalty, steps, noise_source, left_alone)
                    guide = guide + config.feasibility * dreamt.mean()
            loss = loss + guide.to(texts.device)
            guided.append(guide.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    generator.eval()
    for p in trainable:
        p.requires_grad_(True)
    report["loss"] = {"first": _tenth(losses, 0), "last": _tenth(losses, -1)}
    if guided:
        report["guidance_loss"] = {"first": _tenth(guided, 0), "last": _tenth(guided, -1)}
    return report


@torch.no_grad()
def generation_report(
    model: WorldModel, space: SharedSpace, table: AttributeTable, train: Scenes, held_out: Scenes, rng, n: int = 300
) -> dict[str, Any]:
    """Captions of held-out scenes, one generated scene each: the share whose physical state holds
    every stated attribute (and per attribute), and how far generated states lie from the nearest
    training scene's, beside the same distance for real held-out scenes (in training-state stds)."""
    rows = rng.choice(len(held_out), size=min(n, len(held_out)), replace=False)
    captions = [caption(table, held_out.values(table, int(i)), rng) for i in rows]
    texts = space.embed_texts([text for text, _ in captions])
    noise = torch.from_numpy(rng.standard_normal((len(rows), space.generator.code_dim)).astype(np.float32)).to(texts.device)
    latents = space.generator.sample(texts, noise).to(model.device)
    states = model.physical_state(latents).cpu().numpy()
    fields = model.config.state_fields
    per_attribute: dict[str, list[bool]] = {}
    whole = []
    for state, (_, stated) in zip(states, captions, strict=True):
        holds = {name: bool(ok[0]) for name, ok in table.check(stated, state, fields).items()}
        whole.append(all(holds.values()))
        for name, ok in holds.items():
            per_attribute.setdefault(name, []).append(ok)
    train_states = model.physical_state(train.latents.to(model.device)).cpu().numpy()
    real_states = model.physical_state(held_out.latents[rows].to(model.device)).cpu().numpy()
    scale = train_states.std(0) + 1e-6

    reference = train_states / scale

    def nearest(x):
        x = x / scale
        d = [np.sqrt(((x[i : i + 32, None] - reference[None]) ** 2).sum(-1)).min(1) for i in range(0, len(x), 32)]
        return float(np.median(np.concatenate(d)))

    return {
        "captions": len(rows),
        "whole_caption_holds": float(np.mean(whole)),
        "attribute_holds": {name: float(np.mean(v)) for name, v in per_attribute.items()},
        "nearest_training_state": {"generated": nearest(states), "held_out_real": nearest(real_states)},
    }


@torch.no_grad()
def retrieval_report(
    space: SharedSpace, table: AttributeTable, scenes: Scenes, pool: int, rng, pools: int = 10
) -> dict[str, Any]:
    """Recall@1/5 both ways over `pools` pools of `pool` held-out scenes, with chance levels, and the
    attribute heads' accuracy on the scenes (describe) and on their captions (understand)."""
    if len(scenes) < pool:
        raise ValueError(f"{len(scenes)} held-out scenes, fewer than a pool of {pool}")
    hits: dict[str, list[float]] = {}
    for _ in range(pools):
        rows = rng.choice(len(scenes), size=pool, replace=False)
        captions = [caption(table, scenes.values(table, int(i)), rng, most=len(table.names)) for i in rows]
        match = np.stack([scenes.holds(table, stated, rows) for _, stated in captions])  # caption i holds on scene j
        sim = (space.embed_texts([t for t, _ in captions]) @ space.embed_scenes(scenes.latents[rows]).T).numpy()
        for k in (1, 5):
            for way, s, m in (("text_to_scene", sim, match), ("scene_to_text", sim.T, match.T)):
                top = np.argsort(-s, 1)[:, :k]
                hits.setdefault(f"{way}_exact@{k}", []).extend((top == np.arange(pool)[:, None]).any(1))
                hits.setdefault(f"{way}_match@{k}", []).extend(np.take_along_axis(m, top, 1).any(1))
                # chance of a match among k of `pool` drawn at random, given each query's m matches
                n_match = m.sum(1)
                hits.setdefault(f"{way}_match@{k}_chance", []).extend(
                    1 - np.array([math.comb(pool - n, k) / math.comb(pool, k) for n in n_match])
                )
    report = {key: float(np.mean(v)) for key, v in hits.items()}
    report.update({f"exact@{k}_chance": k / pool for k in (1, 5)})
    report["attributes"] = _attribute_accuracy(space, table, scenes, rng)
    return report


@torch.no_grad()
def _attribute_accuracy(space: SharedSpace, table: AttributeTable, scenes: Scenes, rng) -> dict[str, dict[str, float]]:
    """Per attribute: the heads' accuracy (numbers: within tolerance) read off held-out scenes and off
    single-attribute captions of them, beside always answering the most common value."""
    rows = rng.choice(len(scenes), size=min(len(scenes), 1000), replace=False)
    described = space.attribute_values(space.embed_scenes(scenes.latents[rows]), {a.name: a.values for a in table.attributes})
    out = {}
    for a in table.attributes:
        truth = [scenes.values(table, int(i))[a.name] for i in rows]
        known = [j for j, t in enumerate(truth) if t is not None]
        if not known:
            continue
        texts = [caption(table, {a.name: truth[j]}, rng)[0] for j in known]
        understood = space.attribute_values(space.embed_texts(texts), {x.name: x.values for x in table.attributes})

        def right(said, t, a=a):
            return abs(said - t) <= a.tolerance if a.numeric else said == t

        values = [truth[j] for j in known]
        common = max(set(values), key=values.count) if not a.numeric else float(np.median(values))
        out[a.name] = {
            "describe": float(np.mean([right(described[j][a.name], truth[j]) for j in known])),
            "understand": float(np.mean([right(u[a.name], t) for u, t in zip(understood, values, strict=True)])),
            "most_common": float(np.mean([right(common, t) for t in values])),
        }
    return out


def train_text_model(
    checkpoint: str, data: str, out: str, config: TextTrainConfig, progress: bool = True, calm: CalmAction | None = None
) -> dict[str, Any]:
    from worldsim.model.checkpoint import load_model, resolve_checkpoint

    model, _ = load_model(resolve_checkpoint(checkpoint))
    space, report = train_shared_space(model, Dataset(data), config, progress, calm)
    report["checkpoint"], report["data"] = str(checkpoint), str(data)
    save_shared_space(space, out, report, world_model=model)
    return report


GENERATOR_SETTINGS = (
    "generator_steps",
    "generator_kl",
    "guidance",
    "frame_guidance",
    "manifold",
    "feasibility",
    "feasibility_steps",
    "reader_all_fields",
    "reader_unclamped",
    "reader_steps",
    "reader_jitter",
    "numbers_in_range",
    "batch_size",
    "lr",
    "seed",
)


def retrain_scene_generator(
    checkpoint: str, data: str, out: str, config: TextTrainConfig, progress: bool = True, calm: CalmAction | None = None
) -> dict[str, Any]:
    """A fresh scene generator beside the text model of `checkpoint`, whose text encoder, scene side
    and attribute heads are kept (so its retrieval stands); written with them to `out`. Of `config`
    only the generator's settings (`GENERATOR_SETTINGS`) count: the scenes are cut from `data` as
    the text model's were (context, every, val_fraction), so its held-out split stays held out."""
    from worldsim.model.checkpoint import load_model, resolve_checkpoint

    directory = resolve_checkpoint(checkpoint)
    model, _ = load_model(directory)
    space, report = load_shared_space(directory, world_model=model)
    config = replace(trained_config(report), **{k: getattr(config, k) for k in GENERATOR_SETTINGS})
    table = domains.of_model(model.config.domain).load("attributes")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    train_scenes, val_scenes = split_scenes(model, Dataset(data), config, progress)
    c = space.config
    space.generator = SceneGenerator(c.latent_dim, c.shared_dim, c.code_dim).to(space.log_scale.device)
    generator_report = train_scene_generator(model, space, table, train_scenes, val_scenes, config, rng, progress, calm)
    report = dict(report)
    report["config"] = {**report.get("config", {}), **{k: getattr(config, k) for k in GENERATOR_SETTINGS}}
    report["generator_loss"] = generator_report.pop("loss")
    report["generator_training"] = {**generator_report, "retrained_alone": True, "data": str(data)}
    report["generation"] = generation_report(
        model, space, table, train_scenes, val_scenes, np.random.default_rng(config.seed + 2)
    )
    save_shared_space(space, out, report, world_model=model)
    return report
