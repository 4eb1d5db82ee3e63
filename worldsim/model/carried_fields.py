"""State fields added to a trained checkpoint that no learned part reads or writes.

Some of what a frame shows moves by rule alone and steers nothing: CarRacing's tiles' index along the
track, its printed score, the wheels' spin, the touched tiles and kerbs, the dashboard's spin-rate
bars (`worldsim.sources.games.PAINT_FIELDS`). A model trained on
a state without them can carry them unchanged in every weight: each is appended to the physical
state (mean 0 and std 1 when added, its scale set by `scale_fields`), its code column in the latent sits after the
old fields' (before the angles' appended sines), every layer that reads the state code or the
latent gets a zero column for it and every layer that writes the state code a zero row. The
learned parts then compute exactly what they did, the physics prior steps the new fields (they must
be among its `KINEMATIC` fields, so the learned correction leaves them alone), and the painting
reads them. No frame tells the filter them (`ModelConfig.carried_fields`): it takes the prior's
step of them through its frames, from 0 at the first; a prompt's generated scene holds them at 0.

`scale_fields` sets the carried fields' scales from a recording: no learned part reads them, so
nothing a learned part computes changes, but an agent observing the latent sees their codes (a
CarRacing score of 900 or a wheel spinning at 240 rad/s, unscaled, sits in the latent hundreds of
times larger than every other column and saturates a policy's first layer).

`add_fields` returns the new weights and config; what is bound to the weights is carried along:
the start-frame bank's states (the new fields 0, or their recorded values:
`scripts/derive_checkpoint.py --carry-from`), the text model (its scene encoder and generator
given the same zero columns and rows) and the reflector's record of the text model.
"""

from __future__ import annotations

from typing import Any

import torch

# Where the physical state's code starts in each layer's input (`WorldModel`): (layer, offset in
# units of (deter, stoch) widths; None where the layer reads the state code from its start).
# The first layers of the dynamics read [h, z, s, action] (state_delta: only under
# dynamics_reads="latent"; else [s, action]), the GRU's input [z, s, action], the heads the latent
# [s, h, z], a decoder reading the state the drawn state (its code first).
_READS = {
    "gru_in.0.weight": ("stoch",),
    "state_delta.0.weight": ("deter", "stoch"),
    "reward_head.0.weight": (),
    "termination_head.0.weight": (),
    "decoder.film.weight": (),
    "decoder.inp.weight": (),
}
_WRITES = ("state_net", "state_delta", "frame_reader")  # mlps whose last layer writes the state code


def _insert(tensor: torch.Tensor, dim: int, at: int, count: int) -> torch.Tensor:
    shape = list(tensor.shape)
    shape[dim] = count
    return torch.cat([tensor.narrow(dim, 0, at), tensor.new_zeros(shape), tensor.narrow(dim, at, tensor.shape[dim] - at)], dim)


def _last_layer(weights: dict[str, torch.Tensor], prefix: str) -> str:
    """The name (without .weight) of the last Linear of the mlp at `prefix`."""
    layers = [int(k[len(prefix) + 1 :].split(".")[0]) for k in weights if k.startswith(prefix + ".") and k.endswith(".weight")]
    return f"{prefix}.{max(layers)}"


def add_fields(
    weights: dict[str, torch.Tensor], model: dict[str, Any], fields: list[str]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A world model's `weights` and config `model` options with `fields` appended to its state,
    unread and unwritten by every learned part (see the module's doc); a ValueError names a field
    the state has already or a layer this does not know how to widen."""
    old = list(model["state_fields"])
    if not fields:
        raise ValueError("add_fields: name at least one field")
    clash = sorted(set(fields) & set(old)) or sorted({f for f in fields if fields.count(f) > 1})
    if clash:
        raise ValueError(f"add_fields: {clash} already in the state or named twice")
    S, n = len(old), len(fields)
    widths = {"deter": model["deter_dim"], "stoch": model["stoch_dim"] * max(model.get("stoch_classes") or 1, 1)}
    out = dict(weights)
    for key in ("state_mean", "state_std"):
        out[key] = torch.cat([weights[key], torch.zeros(n) if key == "state_mean" else torch.ones(n)])
    reads = dict(_READS)
    if model.get("dynamics_reads", "latent") != "latent":
        reads["state_delta.0.weight"] = ()
    heads = sorted({k.split(".")[1] for k in weights if k.startswith("dynamics_ensemble.")})
    reads.update({f"dynamics_ensemble.{h}.0.weight": ("deter", "stoch") for h in heads})
    for name, before in reads.items():
        if name in out:
            out[name] = _insert(out[name], 1, sum(widths[w] for w in before) + S, n)
    for prefix in (*_WRITES, *(f"dynamics_ensemble.{h}" for h in heads)):
        if any(k.startswith(prefix + ".") for k in weights):
            last = _last_layer(weights, prefix)
            out[last + ".weight"] = _insert(out[last + ".weight"], 0, S, n)
            out[last + ".bias"] = _insert(out[last + ".bias"], 0, S, n)
    carried = [*model.get("carried_fields", []), *fields]
    return out, {**model, "state_fields": [*old, *fields], "carried_fields": carried}


def widen_text(weights: dict[str, torch.Tensor], config: dict[str, Any], at: int, count: int) -> tuple[dict, dict]:
    """A text model's weights and config for a world model whose latent grew by `count` columns at
    `at` (`add_fields`): the scene encoder and the generator's encoder read them with zero columns,
    the generator writes them with zero rows (so generated scenes hold the new fields at 0)."""
    out = dict(weights)
    out["scene.0.weight"] = _insert(out["scene.0.weight"], 1, at, count)
    out["generator.encoder.0.weight"] = _insert(out["generator.encoder.0.weight"], 1, at, count)
    last = _last_layer(weights, "generator.decoder")
    out[last + ".weight"] = _insert(out[last + ".weight"], 0, at, count)
    out[last + ".bias"] = _insert(out[last + ".bias"], 0, at, count)
    out["generator.latent_mean"] = _insert(out["generator.latent_mean"], 0, at, count)
    out["generator.latent_std"] = _insert(out["generator.latent_std"] - 1, 0, at, count) + 1
    return out, {**config, "latent_dim": config["latent_dim"] + count}


def field_scales(values: torch.Tensor) -> torch.Tensor:
    """(F,) scales for fields recorded as `values` (N, F): each field's root mean square, at least
    1 (a field whose values stay within a unit or so, such as a flag or a phase, keeps scale 1 and
    a rare flag is not blown up to a large code)."""
    return values.double().square().mean(0).sqrt().clamp(min=1.0).float()


def scale_fields(weights: dict[str, torch.Tensor], model: dict[str, Any], scales: dict[str, float]) -> dict[str, torch.Tensor]:
    """`weights` with the carried fields named in `scales` standardised by those scales (their
    `state_std`; the mean stays 0, so a code of 0, what a first frame reads and a prompt's
    generator writes, is still the field's 0). A ValueError names a field that is not carried or a
    scale that is not a positive number."""
    carried, fields = model.get("carried_fields", []), list(model["state_fields"])
    stray = sorted(set(scales) - set(carried))
    if stray:
        raise ValueError(f"scale_fields: {stray} are not carried fields (carried: {carried})")
    bad = {f: v for f, v in scales.items() if not (isinstance(v, int | float) and v > 0 and v < float("inf"))}
    if bad:
        raise ValueError(f"scale_fields: scales must be positive numbers, got {bad}")
    std = weights["state_std"].clone()
    for name, scale in scales.items():
        std[fields.index(name)] = float(scale)
    return {**weights, "state_std": std}
