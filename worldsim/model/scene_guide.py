"""A differentiable reading of a scene's attributes off its physical state, to guide the scene generator.

The attribute table reads attributes off a physical state with rules (a lane from a lateral
position, a region from a grid, the gap to the nearest car ahead) that have no gradient. Trained
only to rebuild real latents from their captions, the conditional VAE of `SceneGenerator` lets its
code carry much of what the caption says, so a scene sampled with a fresh code often contradicts
its prompt: unguided, generated states held the whole of a held-out caption in 0.41 (driving),
0.48 (robotics) and 0.70 (games) of fresh draws; guided, in 0.78, 0.87 and 1.00 (BENCHMARKS.md,
"A scene generator guided by what its scenes hold").

`AttributeReader` learns the table's rules on the model's own state codes, jittered so that it
reads the rules around the data too, where a generator in training goes. The generator is then
also scored on what the reader finds in scenes it makes from fresh codes (`guidance_loss`): any
code must give a scene its caption holds on. That verdict can be met by states no real scene has;
what keeps them real: the reader sees only the fields the table's rules read (`AttributeReader.
reads`) and judges only within the span of real codes (`within`, `outside`), `StateBank` charges a
state unlike every real one, and generated scenes are made like the simulator's states
(`worldsim.model.scene.as_simulated`). Read instead in the state the model's frame reader finds on
the frame drawn of the scene (`frame=True`), the verdict is met by what the frame shows, but the
states drift far from real ones. The reader
serves training only and is not saved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from worldsim.model.networks import mlp

if TYPE_CHECKING:
    from worldsim.language.attributes import AttributeTable
    from worldsim.model.world_model import WorldModel


def reading_loss(
    read: dict[str, torch.Tensor],
    kinds: dict[str, int],
    labels: dict[str, torch.Tensor],
    scales: dict[str, float] | None = None,
) -> torch.Tensor:
    """Cross-entropy on categories (label -1: unknown) and, on numbers scaled to [0, 1] (NaN: unknown),
    squared error, summed over the attributes in `labels`. `kinds`: name -> classes, 0 for a number.
    A number in `scales` (its tolerance in the [0, 1] units, `number_scales`) is scored in units of
    that tolerance instead, quadratic within one and linear beyond (Huber): in units of the whole
    range a miss by a tolerance costs next to nothing (driving's gap, 5 m of 0-120 m: 0.0017 against
    a category's ~0.1-1), and readers left it unlearnt (0.21-0.29 of gaps read within 5 m)."""
    scales = scales or {}
    total = next(iter(read.values())).new_zeros(())
    for name, y in labels.items():
        out, y = read[name], y.to(read[name].device)
        if kinds[name] == 0:
            known = ~torch.isnan(y)
            if known.any():
                if name in scales:
                    s = scales[name]
                    total = total + F.smooth_l1_loss(out[known] / s, y[known] / s)
                else:
                    total = total + F.mse_loss(out[known], y[known])
        elif (y >= 0).any():
            total = total + F.cross_entropy(out, y, ignore_index=-1)
    return total


def number_scales(table: AttributeTable, ranges: dict[str, list[float]]) -> dict[str, float]:
    """Each number's tolerance in the [0, 1] units its readers work in (`ranges`: name -> [low, high])."""
    return {a.name: a.tolerance / (ranges[a.name][1] - ranges[a.name][0]) for a in table.attributes if a.numeric}


def scaled_labels(
    table: AttributeTable, readings: dict[str, np.ndarray], ranges: dict[str, list[float]]
) -> dict[str, torch.Tensor]:
    """The table's readings (category index or -1; number or NaN) as training labels: categories as
    they are, numbers scaled by `ranges` to [0, 1]."""
    labels = {}
    for a in table.attributes:
        r = np.asarray(readings[a.name])
        if a.numeric:
            low, high = ranges[a.name]
            labels[a.name] = torch.from_numpy(((r - low) / (high - low)).astype(np.float32))
        else:
            labels[a.name] = torch.from_numpy(r.astype(np.int64))
    return labels


SPAN_QUANTILE = 0.005  # each side of a dimension's span of real codes left out


class AttributeReader(nn.Module):
    """State code (the latent's state slot) -> every attribute: category logits or a number in [0, 1].

    It knows the rules only over the span of real state codes (`low`, `high`: the middle 99 % of
    each dimension in the scenes it learnt from); `outside` measures how far a code lies beyond that span.
    Rules that clip (a region of the table) are otherwise best met far off it: a guided PushT
    generator put the block 120 units above the table for "the top-left corner", where no frame
    shows it."""

    def __init__(self, code_dim: int, kinds: dict[str, int], width: int = 256, scales: dict[str, float] | None = None):
        super().__init__()
        self.kinds = dict(kinds)
        self.scales = dict(scales or {})  # numbers scored in units of their tolerance (`reading_loss`)
        self.body = mlp(code_dim, width, width, layers=3)
        self.heads = nn.ModuleDict({name: nn.Linear(width, max(n, 1)) for name, n in kinds.items()})
        self.register_buffer("low", torch.full((code_dim,), -torch.inf))
        self.register_buffer("high", torch.full((code_dim,), torch.inf))
        # 1 where the code holds a field some rule reads: a reader that also sees the fields no rule
        # reads learns spurious leanings on them, and guidance follows those (PushT: "the block on
        # the goal" got the agent moving faster than in 99 % of the data's steps).
        self.register_buffer("reads", torch.ones(code_dim))

    def forward(self, code: torch.Tensor) -> dict[str, torch.Tensor]:
        x = F.elu(self.body(code * self.reads))
        return {name: head(x).squeeze(-1) if self.kinds[name] == 0 else head(x) for name, head in self.heads.items()}

    def within(self, code: torch.Tensor) -> torch.Tensor:
        """`code` clamped to the span of real codes: what the reader judges. Beyond the span its verdict
        stays the edge's, so a state gains nothing there and only `outside` pulls it back (judged as
        it was, "the block far from the goal" went 150 units below the table, where no frame shows it)."""
        return torch.maximum(torch.minimum(code, self.high), self.low)

    def outside(self, code: torch.Tensor) -> torch.Tensor:
        """(N,) squared distance of each code beyond the span of real codes (0 within it)."""
        return (F.relu(code - self.high) ** 2 + F.relu(self.low - code) ** 2).sum(-1)


def code_dims(model: WorldModel, fields: tuple[str, ...]) -> torch.Tensor:
    """(state_code_dim,) 1 for the code dimensions that hold `fields` (an angle under "cos_sin":
    its cosine's slot and its appended sine), 0 elsewhere."""
    names = list(model.config.state_fields)
    S, width = len(names), model.config.state_code_dim
    mask = torch.zeros(width)
    angles = [names[i] for i in model.angle_index.tolist()] if width > S else []
    for name in fields:
        mask[names.index(name)] = 1
        if name in angles:
            mask[S + angles.index(name)] = 1
    return mask


def _jittered(codes: torch.Tensor, jitter: float, generator: torch.Generator) -> torch.Tensor:
    """Each code moved by Gaussian noise of a scale drawn in [0, jitter] per row (units of the
    codes' own spread), half the rows mixed with another row first: readings around and between
    real states, not only on them."""
    n = len(codes)
    partner = codes[torch.randint(n, (n,), generator=generator)]
    mix = torch.rand(n, 1, generator=generator) * (torch.rand(n, 1, generator=generator) < 0.5)
    x = codes + mix * (partner - codes)
    scale = torch.rand(n, 1, generator=generator) * jitter
    return x + scale * codes.std(0, keepdim=True) * torch.randn(x.shape, generator=generator)


def train_attribute_reader(
    model: WorldModel,
    table: AttributeTable,
    ranges: dict[str, list[float]],
    codes: torch.Tensor,
    held_out: torch.Tensor,
    steps: int = 1500,
    batch_size: int = 512,
    jitter: float = 1.0,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    all_fields: bool = False,
    in_tolerances: bool = True,
) -> tuple[AttributeReader, dict[str, Any]]:
    """An `AttributeReader` fitted to the table's rules on jittered state codes of real scenes
    (`codes`, (N, state_code_dim)); its agreement with the rules on `held_out` codes, jittered the
    same way, is reported per attribute (numbers: within the attribute's tolerance). With
    `in_tolerances` numbers are learnt in units of their tolerance (`reading_loss`), else of their range."""
    kinds = {a.name: 0 if a.numeric else len(a.values) for a in table.attributes}
    reader = AttributeReader(codes.shape[1], kinds, scales=number_scales(table, ranges) if in_tolerances else None)
    # The span: the middle 99 % of each dimension; the extremes are rare states (a PushT block pushed
    # partly off the table) and the filter's misreadings, and the min-max span let a guided block
    # leave the table (BENCHMARKS.md).
    reader.low.copy_(torch.quantile(codes.detach().float().cpu(), SPAN_QUANTILE, dim=0))
    reader.high.copy_(torch.quantile(codes.detach().float().cpu(), 1 - SPAN_QUANTILE, dim=0))
    fields = model.config.state_fields
    with torch.no_grad():
        real_states = model.denormalise_state(codes.detach().to(model.device)).cpu().numpy()
    read_fields = tuple(fields) if all_fields else table.fields_read(real_states, fields, seed=seed)
    reader.reads.copy_(code_dims(model, read_fields))
    optimizer = torch.optim.AdamW(reader.parameters(), lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)

    def batch(source: torch.Tensor, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rows = source[torch.randint(len(source), (n,), generator=generator)]
        x = _jittered(rows, jitter, generator)
        with torch.no_grad():
            states = model.denormalise_state(x.to(model.device)).cpu().numpy()
        return x, scaled_labels(table, table.read(states, fields), ranges)

    codes = codes.detach().cpu()
    losses = []
    for _ in tqdm(range(steps), desc="train attribute reader", unit="step", disable=not progress):
        x, labels = batch(codes, batch_size)
        loss = reading_loss(reader(x), kinds, labels, reader.scales)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    reader.eval()
    for p in reader.parameters():
        p.requires_grad_(False)
    x, labels = batch(held_out.detach().cpu(), 4096)
    with torch.no_grad():
        read = reader(x)
    agreement = {}
    for a in table.attributes:
        y = labels[a.name]
        if a.numeric:
            low, high = ranges[a.name]
            known = ~torch.isnan(y)
            right = (read[a.name][known] - y[known]).abs() * (high - low) <= a.tolerance
        else:
            known = y >= 0
            right = read[a.name][known].argmax(-1) == y[known]
        agreement[a.name] = float(right.float().mean()) if known.any() else None
    n = max(1, len(losses) // 10)
    report = {
        "steps": steps,
        "jitter": jitter,
        "fields_read": list(read_fields),
        "loss": {"first": float(np.mean(losses[:n])), "last": float(np.mean(losses[-n:]))},
        "agreement_held_out": agreement,
    }
    return reader, report


class StateBank:
    """The state codes of real scenes, each dimension scaled by its spread there: how far a generated
    code lies from the nearest real one says whether any real scene is like it. A guided generator
    otherwise meets the reader with states no scene has (driving: the car ahead listed after cars
    further away, where highway-env lists vehicles by distance and the decoder draws none of them).
    The penalty starts at `radius`, the `quantile` of held-out real codes' own nearest distances, so
    that new combinations near real scenes stay free."""

    def __init__(self, codes: torch.Tensor, held_out: torch.Tensor, quantile: float = 0.9):
        codes = codes.detach().float()
        self.scale = codes.std(0).clamp(min=1e-3)
        self.codes = codes / self.scale
        with torch.no_grad():
            self.radius = float(torch.quantile(self.distance(held_out.detach().float()), quantile))

    def distance(self, code: torch.Tensor) -> torch.Tensor:
        """(N,) distance of each (N, C) code to its nearest real code, in scaled units."""
        bank = self.codes.to(code.device)
        return torch.cat([torch.cdist(chunk / self.scale.to(code.device), bank).min(1).values for chunk in code.split(1024)])

    def loss(self, code: torch.Tensor) -> torch.Tensor:
        return F.relu(self.distance(code) - self.radius).mean()


def drawn_code(model: WorldModel, latents: torch.Tensor) -> torch.Tensor:
    """The state code the model's frame reader reads back off the frames it draws of `latents`
    (N, L): what a scene shows, with gradients to the latents (the model's weights are not trained)."""
    if model.config.decoder_input == "state":
        frames = model.draw_state(model.split(latents)[0])
    else:
        frames = model.decoder(latents)
    return model.read_frames(frames.clamp(0, 1))


def guidance_loss(
    model: WorldModel,
    reader: AttributeReader,
    latents: torch.Tensor,
    labels: dict[str, torch.Tensor],
    frame: bool = False,
    clamp: bool = True,
) -> torch.Tensor:
    """How far the reader finds generated `latents` (N, L) from their captions' stated attributes
    (`labels`, as `scaled_labels`; unstated: -1 or NaN): in the latent's state slot, or with `frame`
    in the state read back off the frame drawn of it (`drawn_code`); plus how far the generated
    state lies beyond the span of real ones, where the reader's verdict means nothing (with `clamp`
    the reader judges such a state at the span's edge, so that only the pull back acts on it)."""
    latents = latents.to(model.device)
    state = model.split(latents)[0].to(reader.low.device)
    code = drawn_code(model, latents).to(reader.low.device) if frame else state
    read = reader(reader.within(code) if clamp else code)
    return reading_loss(read, reader.kinds, labels, reader.scales) + reader.outside(state).mean()


def dreamt_infeasibility(
    model: WorldModel, latents: torch.Tensor, penalty, steps: int, generator: torch.Generator, calm
) -> torch.Tensor:
    """(N,) how deep generated scenes lie in infeasible states over the first `steps` dreamt steps
    of the scene left to itself (the calm action), each start put on the lanes as a prompt's start
    is (`scene.on_lanes`; the slots' reordering of `as_simulated` has no gradient and is left out:
    the generator lists cars nearest first as the data does). A start can be feasible and still
    end at once: the dynamics read the whole latent, and a generated deterministic part unlike any
    the filter makes moved a car onto the ego within one step in a quarter of prompted driving
    starts (from real starts: 8 %). The dynamics only judge: gradients reach the generated latent
    through them, their weights stay as they are. `calm`: states (N, S) -> the actions that leave
    the scenes to themselves (the envs' `calm_action` for the domain; the model layer has no envs)."""
    from worldsim.model.scene import on_lanes

    start = on_lanes(model, model.settle(latents))
    fields = model.config.state_fields
    action = np.asarray(calm(model.physical_state(start).detach().cpu().numpy()))
    actions = torch.from_numpy(np.repeat(action[:, None], steps, 1)).to(model.device)
    rollout = model.imagine(start, actions, generator=generator)
    return sum(penalty(rollout.states[:, k], fields) for k in range(steps))
