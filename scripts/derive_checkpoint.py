"""A trained checkpoint with model options that change how it dreams, not its weights.

Some options act only at imagination: the physics prior laying its own random part
(`prior_noise`), the reward read off each step by the prior (`prior_reward`), the fields the prior
holds alone (`kinematic_fields`), the termination threshold, the road's lanes the dreamt states
keep to (`lanes`; "road" is the domain's own, `worldsim.model.lanes`), the ground a camera paints over the
decoder's frames (`paint`, set in the model's `decoder_view`; "camera" is the domain camera's own,
`worldsim.model.painted_ground`), what the camera paints fitted to a start's frame (`frame_fit`),
state fields carried by the physics prior alone and read only by
the painting (`carry`: a list of the source's field names, appended to the state with zero weights
everywhere, `worldsim.model.carried_fields`; "paint": the domain's `PAINT_FIELDS`; the start
bank's states get them from `--carry-from DATA`, a recording of the same episodes with those
fields, or 0; `--scale-carried DATA` standardises the carried fields by their size in DATA,
`carried_fields.scale_fields`, so that they do not dominate an agent's latent observations). This
copies a checkpoint (weights, start-frame bank) into OUT with those options set in its config,
after checking that the weights still load under them, so that one set of weights can be measured
under each way of dreaming.
The derived config records where it came from and what was set (`recipe.derived`). What is
trained beside the weights and bound to them (the text model, the reflector, the distilled
decoder) is copied too where the weights are kept as they are, so a shipped model keeps its
prompts under a new way of dreaming.

With `--decoder-from RUN`, the frames are drawn by RUN's decoder instead. A decoder that reads the
physical state alone (`decoder_input="state"`) is a renderer of that state, whichever dynamics
produced it; two runs that standardise the same fields alike (trained on the same data) can swap
renderers. Nothing the dynamics, the reward or an agent on latent observations sees changes.

With `frame_fit` (`worldsim.model.frame_fit`), the start bank's starts are fitted here and stored
with the bank (`start_bank.write_fitted_starts`).

Usage: python scripts/derive_checkpoint.py SOURCE OUT '{"prior_noise": true}' [--decoder-from RUN] [--carry-from DATA]
       [--scale-carried DATA]
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from worldsim import domains
from worldsim.data import Dataset
from worldsim.data.dataset import field_columns
from worldsim.model.card import DISTILLED_FILES, REFLECT_FILES, TEXT_FILES
from worldsim.model.carried_fields import add_fields, field_scales, scale_fields, widen_text
from worldsim.model.checkpoint import (
    CONFIG,
    FORMAT,
    WEIGHTS,
    CheckpointError,
    latents_fingerprint,
    load_model,
    read_config,
    weights_fingerprint,
    write_json,
    write_tensors,
)
from worldsim.model.config import FORMAT_VERSION
from worldsim.model.start_bank import START_BANK, write_fitted_starts
from worldsim.model.text import load_shared_space

# Options that leave every weight's name and shape alone and change only how the model dreams.
DREAMING = {"prior_noise", "prior_reward", "kinematic_fields", "termination_threshold", "lanes", "paint", "carry", "frame_fit"}
# Options of the decoder itself, taken with its weights (--decoder-from).
DECODER_OWN = {"decoder_static"}
# What must agree for one run's decoder to draw another's states.
DECODER_INPUT = (
    *("domain", "frame_size", "channels", "state_fields"),
    *("decoder", "decoder_input", "decoder_view", "decoder_periods"),
)


def graft_decoder(weights: dict, model: dict, donor: Path) -> tuple[dict, dict]:
    """`weights` and `model` options with the decoder of the run `donor`; a ValueError names what
    keeps the two from sharing one (the decoder must read the state, standardised alike)."""
    other = read_config(donor)["model"]
    if model.get("decoder_input") != "state":
        raise ValueError('only a decoder that reads the physical state alone (decoder_input "state") can be swapped')
    differing = [key for key in DECODER_INPUT if model.get(key) != other.get(key)]
    if differing:
        raise ValueError(f"{donor} draws from other inputs: {', '.join(differing)} differ")
    theirs = load_file(str(donor / WEIGHTS))
    for key in ("state_mean", "state_std"):
        if not weights[key].equal(theirs[key]):
            raise ValueError(f"{donor} standardises the state otherwise ({key} differs): trained on other data")
    weights = {k: v for k, v in weights.items() if not k.startswith("decoder.")}
    weights.update({k: v for k, v in theirs.items() if k.startswith("decoder.")})
    return weights, {**model, **{k: other[k] for k in DECODER_OWN if k in other}}


def carried_from(data: Dataset, frames: np.ndarray, carried: list[str]) -> np.ndarray:
    """(N, C, F): the carried fields' recorded values for each of the start bank's contexts
    `frames` (N, C, H, W, 3), from the episode of `data` that starts with those frames (a recording
    of the same episodes with the fields); a ValueError names the contexts none starts with."""
    columns = field_columns(data.source, carried, data.root)
    context = frames.shape[1]
    starts = {}
    for index in range(len(data)):
        episode = data.episode(index)
        starts.setdefault(np.ascontiguousarray(episode.frames[:context]).tobytes(), episode.states[:context, columns])
    found = [starts.get(np.ascontiguousarray(f).tobytes()) for f in frames]
    missing = [i for i, states in enumerate(found) if states is None]
    if missing:
        raise ValueError(f"{data.root}: no episode starts with the frames of the start bank's contexts {missing}")
    return np.stack(found).astype(np.float32)


def carried_scales(data: Dataset, carried: list[str]) -> dict[str, float]:
    """Each carried field's scale (`carried_fields.field_scales`) over every step `data` recorded."""
    columns = field_columns(data.source, carried, data.root)
    values = np.concatenate([episode.states[:, columns] for episode in data.episodes(progress=True)])
    return dict(zip(carried, field_scales(torch.from_numpy(values)).tolist(), strict=True))


def rebind_text(source: Path, staged: Path, widen: tuple[int, int] | None = None) -> None:
    """The text model and the reflector of `source`, re-bound to the weights staged in `staged`
    (which mean the same latents but hash otherwise); `widen` = (at, count) first gives the text
    model zero columns and rows for latent columns the weights gained there."""
    if not (source / TEXT_FILES[0]).is_file():
        return
    model, _ = load_model(staged)
    meta = json.loads((source / TEXT_FILES[0]).read_text())
    weights = load_file(str(source / TEXT_FILES[1]))
    if widen is not None:
        weights, meta["config"] = widen_text(weights, meta["config"], *widen)
    meta["world_model_latents"] = latents_fingerprint(model)
    meta.pop("world_model", None)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(staged / TEXT_FILES[1]))
    write_json(staged / TEXT_FILES[0], meta)
    if (source / REFLECT_FILES[0]).is_file():
        space, _ = load_shared_space(staged, world_model=model)
        reflect = json.loads((source / REFLECT_FILES[0]).read_text())
        reflect["text_model"] = weights_fingerprint(space)
        write_json(staged / REFLECT_FILES[0], reflect)
        shutil.copy2(source / REFLECT_FILES[1], staged / REFLECT_FILES[1])


def carry_bound_files(source: Path, staged: Path, old_fields: int, carried: list[str], carry_from: Dataset | None = None) -> None:
    """What is bound to the weights, widened for the fields `carried` after the first `old_fields`
    (`carried_fields.add_fields`): the start bank's states (the new fields as `carry_from` recorded
    them, else 0), the text model (re-bound to the new weights) and the reflector (re-bound to the
    new text model)."""
    count = len(carried)
    if (source / START_BANK).is_file():
        with np.load(source / START_BANK, allow_pickle=False) as bank:
            arrays = {k: bank[k] for k in bank.files}
        if "states" in arrays:
            states = arrays["states"]
            if carry_from is not None:
                added = carried_from(carry_from, arrays["frames"], carried)
            else:
                added = np.zeros((*states.shape[:-1], count), states.dtype)
            arrays["states"] = np.concatenate([states, added.astype(states.dtype)], -1)
        tmp = staged / (START_BANK + ".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(staged / START_BANK)
    rebind_text(source, staged, (old_fields, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a checkpoint directory")
    parser.add_argument("out", help="the derived checkpoint's directory (must not exist)")
    parser.add_argument("options", help="JSON object of model options to set ({} for none)")
    parser.add_argument("--decoder-from", type=Path, help="a run whose decoder draws the frames instead")
    parser.add_argument("--carry-from", type=Path, help="a dataset recording the carried fields: the start bank's values of them")
    parser.add_argument(
        "--scale-carried", type=Path, help="a dataset recording the carried fields: each standardised by its scale there"
    )
    args = parser.parse_args()
    options = json.loads(args.options)
    if not isinstance(options, dict) or not (options or args.decoder_from or args.scale_carried):
        parser.error(
            f"options must be a JSON object, non-empty unless --decoder-from or --scale-carried is given; got {args.options!r}"
        )
    if set(options) - DREAMING:
        parser.error(f"{sorted(set(options) - DREAMING)} change the weights; only {', '.join(sorted(DREAMING))} can be set here")
    source, out = Path(args.source), Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new directory")
    data = read_config(source)
    data["format_version"] = FORMAT_VERSION
    if options.get("lanes") == "road":
        try:
            options["lanes"] = domains.of_model(data["model"]["domain"]).load("lanes")
        except ValueError as exc:
            parser.error(str(exc))
    model_options = dict(options)
    carried = model_options.pop("carry", None)
    if carried == "paint":
        source_module = domains.of_model(data["model"]["domain"]).source.partition(":")[0]
        carried = options["carry"] = list(getattr(importlib.import_module(source_module), "PAINT_FIELDS", ()))
    if carried is not None and not (isinstance(carried, list) and carried and all(isinstance(f, str) for f in carried)):
        parser.error(f'carry must be a list of state field names or "paint", got {carried!r}')
    if args.carry_from and not carried:
        parser.error("--carry-from fills in carried fields: give carry in the options")
    try:
        carry_from = Dataset(args.carry_from) if args.carry_from else None
    except (FileNotFoundError, ValueError) as exc:
        parser.error(f"--carry-from: {exc}")
    try:
        scale_from = Dataset(args.scale_carried) if args.scale_carried else None
    except (FileNotFoundError, ValueError) as exc:
        parser.error(f"--scale-carried: {exc}")
    if "paint" in model_options:  # the painting is part of the camera's spec: the view's "paint"
        paint = model_options.pop("paint")
        if not data["model"].get("decoder_view"):
            parser.error("paint needs a model whose decoder reads a camera's view (decoder_view)")
        if paint == "camera":
            paint = options["paint"] = domains.of_model(data["model"]["domain"]).load("camera").get("paint")
            if paint is None:
                parser.error(f"the {data['model']['domain']!r} camera paints nothing")
        model_options["decoder_view"] = {**data["model"]["decoder_view"], "paint": paint}
    weights = None
    if carried:
        try:
            weights, data["model"] = add_fields(load_file(str(source / WEIGHTS)), data["model"], carried)
        except ValueError as exc:
            parser.error(str(exc))
    scales = None
    if scale_from is not None:
        if not data["model"].get("carried_fields"):
            parser.error("--scale-carried: the model carries no fields (give carry in the options, or a model that does)")
        try:
            scales = carried_scales(scale_from, data["model"]["carried_fields"])
            weights = scale_fields(weights if weights is not None else load_file(str(source / WEIGHTS)), data["model"], scales)
        except ValueError as exc:
            parser.error(f"--scale-carried: {exc}")
    data["model"] = {**data["model"], **model_options}
    recipe = data.setdefault("recipe", {})
    recipe["derived"] = {"from": str(source), "options": options}
    if args.carry_from:
        recipe["derived"]["carry_from"] = str(args.carry_from)
    if scales is not None:
        recipe["derived"]["scale_carried"] = str(args.scale_carried)
        recipe["derived"]["carried_scales"] = {k: round(v, 4) for k, v in scales.items()}
    if recipe.get("refit_decoder", {}).get("out"):  # the refit came first (worldsim.model.retrain.last_stage)
        recipe["derived"]["after_refit"] = recipe["refit_decoder"]["out"]
    if args.decoder_from:
        if carried or scales is not None:
            parser.error("carry or --scale-carried and --decoder-from: derive one, then the other")
        try:
            weights, data["model"] = graft_decoder(load_file(str(source / WEIGHTS)), data["model"], args.decoder_from)
        except ValueError as exc:
            parser.error(str(exc))
        data["recipe"]["derived"]["decoder_from"] = str(args.decoder_from)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as staging:
        staged = Path(staging) / "checkpoint"
        staged.mkdir()
        if weights is None:
            shutil.copy2(source / WEIGHTS, staged / WEIGHTS)
            # bound to the weights' fingerprint, which a dreaming option leaves as it is
            for name in (*TEXT_FILES, *REFLECT_FILES, *DISTILLED_FILES):
                if (source / name).is_file():
                    shutil.copy2(source / name, staged / name)
        else:
            write_tensors(staged / WEIGHTS, weights, metadata={"format": FORMAT})
        if (source / START_BANK).is_file():
            shutil.copy2(source / START_BANK, staged / START_BANK)
        write_json(staged / CONFIG, data)
        if carried:
            try:
                carry_bound_files(source, staged, len(data["model"]["state_fields"]) - len(carried), carried, carry_from)
            except ValueError as exc:
                parser.error(str(exc))
        elif scales is not None:
            rebind_text(source, staged)  # the same latents, the carried fields' codes rescaled
        try:
            model, _ = load_model(staged)  # the weights load under the new options, or a clear error
        except CheckpointError as exc:
            parser.error(str(exc))
        if model.config.frame_fit and (staged / START_BANK).is_file():
            # the bank's starts fitted once here, not at every environment's first reset
            print(f"fitting the {write_fitted_starts(staged, model.eval())} starts of the bank to their frames")
        out.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(out)
    grafted = f", frames drawn by {args.decoder_from}'s decoder" if args.decoder_from else ""
    scaled = f", the carried fields scaled as in {args.scale_carried}" if scales is not None else ""
    print(f"{out}: {source} with {json.dumps(options)}{grafted}{scaled}")


if __name__ == "__main__":
    main()
