"""Refit a state-drawing decoder on (true state, frame) pairs alone, and graft it back into its model.

    python scripts/refit_decoder.py [CHECKPOINT] --out runs/robotics-redrawn [--data data/robotics-v2]
        [--test data/eval/robotics-probe] [--steps 6000] [--batch 64] [--lr 1e-3] [--foreground 10]
        [--view camera|JSON] [--decoder-from CHECKPOINT]

A model whose decoder reads the physical state alone (`decoder_input` "state") learnt to draw
inside the world model's training, a few thousand steps shared with everything else. Drawn from
the simulator's true state, the shipped PushT decoder still turns the T into a blurred cross or a
"Y" at some angles, and the realism test sees that in every dream frame whatever the dynamics do.
Since the decoder reads nothing but the state, it can learn on its own, far faster: this fits the
model's decoder (and nothing else) to the real frames of DATA drawn from their true states, with
the training objective's pixel loss (`foreground` weighting, so the block and the agent disc are
not the cheapest pixels to blur), then writes the model with the refitted decoder to OUT (the
encoder, dynamics and heads byte for byte as they were; the start bank, the text model and its
reflector carried over: `scripts/ship_weights.sh`'s export then ships them together).

`--view` gives the refitted decoder a camera's per-cell geometry (`worldsim.model.ego_view`;
"camera": the domain's own, say highway-env's car boxes and lane markings) that the source model's
decoder lacked: its first layer grows inputs for the view's channels, starting at zero, so the
refit starts from the decoder as it was. A camera that paints its lines (`PaintedLines`) has them
drawn over the decoder's frames; the refit then leaves out a target line the paint put one row off
(a line on a pixel's edge, whose side the float32 state may not tell) and weighs the road beside a
painted line as a rare pixel, so the decoder does not learn a half-tone row beside every line.

`--decoder-from` starts from another model's decoder instead (one drawing the same state the same
way: same decoder config and state normalisation), say a decoder refitted before the rest of the
model was trained further; with `--steps 0` it is grafted as it is.

Prints, before and after, on held-out frames of TEST drawn from their true states and snapped to
the palette as the environments show them: PSNR, and the share of frames whose block and agent
pixels overlap the real ones by half or more.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from worldsim import domains
from worldsim.cli_model import json_flag
from worldsim.data import Dataset
from worldsim.model.card import REFLECT_FILES, TEXT_FILES
from worldsim.model.checkpoint import load_model, read_config, resolve_checkpoint, save_model
from worldsim.model.config import ModelConfig
from worldsim.model.long_horizon import draw_states, model_columns
from worldsim.model.metrics import psnr
from worldsim.model.objective import LossWeights, pixel_error, pixel_weight
from worldsim.model.palette import palette_from_frames
from worldsim.model.start_bank import START_BANK
from worldsim.model.text import load_shared_space, save_shared_space
from worldsim.model.world_model import WorldModel
from worldsim.sources.objects import ROBOTICS


def pairs(root: str, model, every: int) -> tuple[torch.Tensor, np.ndarray]:
    """(frames uint8 (N, H, W, 3), their true physical states in the model's fields (N, S))."""
    data = Dataset(root)
    columns = model_columns(model, data)
    episodes = [data.episode(i) for i in tqdm(data.indices(), desc=f"loading {root}", leave=False)]
    frames = np.concatenate([e.frames[::every] for e in episodes])
    return torch.from_numpy(frames), np.concatenate([e.states[::every][:, columns] for e in episodes]).astype(np.float32)


def score(model, frames: torch.Tensor, states: np.ndarray, palette: torch.Tensor) -> str:
    """PSNR of the true states drawn and snapped (and on PushT the objects' overlap) against `frames`."""
    pictures, real = draw_states(model, states, palette), frames.numpy()
    to_unit = lambda x: torch.from_numpy(x).movedim(-1, -3).float() / 255  # noqa: E731
    cells = [f"PSNR {psnr(to_unit(pictures), to_unit(real)).mean():.1f} dB"]
    if model.config.domain == "robotics":
        for obj in ROBOTICS:
            cells.append(f"{obj.name} matched {np.mean(obj.overlap(pictures, real) >= 0.5):.0%}")
    return ", ".join(cells)


def with_view(model: WorldModel, view: dict) -> WorldModel:
    """`model` with its decoder given the camera `view` (`ModelConfig.decoder_view`): every weight
    as it was, the decoder's first layer widened with zero weights for the view's channels (which
    come after the ones it had), so it draws as before until it learns to read them."""
    config = ModelConfig.from_json({**model.config.to_json(), "decoder_view": view})
    grown = WorldModel(config).to(model.device)
    old, new = model.state_dict(), grown.state_dict()
    first = "decoder.cells.0.weight"  # the field decoder's per-cell input layer
    for name, tensor in old.items():
        if name == first and tensor.shape != new[name].shape:
            if new[name].shape[1] < tensor.shape[1]:
                raise ValueError(
                    f"the view has fewer channels than the decoder reads ({tensor.shape[1]}); refit from a model without it"
                )
            widened = torch.zeros_like(new[name])
            widened[:, : tensor.shape[1]] = tensor
            tensor = widened
        new[name] = tensor
    grown.load_state_dict(new)
    return grown.eval()


def take_decoder(model: WorldModel, donor: WorldModel) -> None:
    """`donor`'s decoder weights into `model`, which must draw the same codes the same way."""
    drawing = ("decoder", "decoder_input", "decoder_view", "decoder_periods", "decoder_static", "channels", "frame_size")
    differ = [
        name
        for name in drawing + ("state_fields", "angle_fields", "angle_coding")
        if getattr(model.config, name) != getattr(donor.config, name)
    ]
    if differ:
        raise ValueError(f"--decoder-from: its {', '.join(differ)} differ from the model's")
    if not (torch.equal(model.state_mean, donor.state_mean) and torch.equal(model.state_std, donor.state_std)):
        raise ValueError("--decoder-from: its state normalisation differs: its decoder reads other codes")
    model.decoder.load_state_dict(donor.decoder.state_dict())


def parse_view(text: str, domain: str) -> dict:
    """--view: "camera" (the domain's own, `DomainSpec.camera`) or a view spec as JSON."""
    return domains.of_model(domain).load("camera") if text == "camera" else json_flag("--view", text)


def carry_over(source: Path, out: Path, model) -> None:
    """What the source model has beside its weights, into OUT: the start bank, the text model (it
    reads and makes latents, which mean what they meant: bound again to the refitted model's
    latents) and its reflector (bound to the text model's weights, unchanged). A distilled decoder
    learnt from the old decoder and is left behind."""
    if (source / START_BANK).is_file():
        shutil.copy2(source / START_BANK, out / START_BANK)
    if not all((source / name).is_file() for name in TEXT_FILES):
        return
    original, _ = load_model(source)
    space, report = load_shared_space(source, world_model=original)  # refused unless trained beside it
    save_shared_space(space, out, report, world_model=model)
    if all((source / name).is_file() for name in REFLECT_FILES):
        for name in REFLECT_FILES:
            shutil.copy2(source / name, out / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", nargs="?", default="robotics")
    parser.add_argument("--out", required=True, help="the model with the refitted decoder (a new directory)")
    parser.add_argument("--data", default="data/robotics-v2", help="episodes to fit on (true states and frames)")
    parser.add_argument("--test", default="data/eval/robotics-probe", help="held-out episodes to score on")
    parser.add_argument("--every", type=int, default=2, help="keep every n-th frame of DATA (default 2)")
    parser.add_argument("--steps", type=int, default=6000, help="0: keep the decoder as it starts (with --decoder-from: a graft)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--foreground", type=float, default=10.0, help="LossWeights.foreground (the shipped recipe's 10)")
    parser.add_argument("--view", help="give the decoder a camera's geometry: 'camera' (the domain's own) or a JSON view spec")
    parser.add_argument(
        "--decoder-from", help="start from this checkpoint's decoder (same decoder config and state normalisation)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new directory")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    source = resolve_checkpoint(args.checkpoint)
    model, _ = load_model(source)
    if model.config.decoder_input != "state":
        parser.error(f"{source}: its decoder reads {model.config.decoder_input!r}, not the state alone; nothing to refit apart")
    if args.view:
        try:
            model = with_view(model, parse_view(args.view, model.config.domain))
        except ValueError as exc:
            parser.error(str(exc))
    if args.steps < 0:
        parser.error(f"--steps must be at least 0, got {args.steps}")
    if args.decoder_from:
        try:
            take_decoder(model, load_model(resolve_checkpoint(args.decoder_from))[0])
        except ValueError as exc:
            parser.error(str(exc))
    model.eval().requires_grad_(False)
    model.decoder.requires_grad_(True)
    frames, states = pairs(args.data, model, args.every)
    codes = model.normalise_state(torch.from_numpy(states).to(model.device))
    test_frames, test_states = pairs(args.test, model, 10)
    palette = palette_from_frames(frames[:: max(1, len(frames) // 2000)].numpy()).to(model.device)
    print(f"{source}, drawn from the true states of {len(test_frames)} held-out frames of {args.test}")
    print(f"  before: {score(model, test_frames, test_states, palette)}", flush=True)
    optimizer = torch.optim.Adam(model.decoder.parameters(), args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(args.steps, 1))
    generator = torch.Generator().manual_seed(args.seed)
    weights = LossWeights(foreground=args.foreground)
    started = time.perf_counter()
    for _ in (bar := tqdm(range(args.steps), desc="refitting the decoder")):
        idx = torch.randint(len(frames), (args.batch,), generator=generator)
        target = model.frames_in(frames[idx])
        weight = pixel_weight(weights, target, target.mean(0))
        if model.painted_lines is not None:
            # lines the paint put a row off are not the decoder's to draw; the road beside a painted
            # line is, and weighs as much as a rare pixel (the decoder drew half-tone rows there)
            share = model.painted_lines.coverage(model.denormalise_state(codes[idx]))
            beside = torch.nn.functional.max_pool2d((share > 0).float(), (3, 1), 1, (1, 0)) * (share == 0)
            keep = (~model.painted_lines.row_off(share, target)).float() * (1 + args.foreground * beside)
            weight = keep if weight is None else weight * keep
        loss = pixel_error(model.draw_state(codes[idx]), target, weight).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.1f}", refresh=False)
    model.requires_grad_(False)
    seconds = time.perf_counter() - started
    print(f"  after {args.steps} steps ({seconds:.0f} s): {score(model, test_frames, test_states, palette)}")
    partial = out.with_name(out.name + ".partial")  # a killed run leaves no half-written model under OUT
    shutil.rmtree(partial, ignore_errors=True)
    # the source's recipe stays (how its weights were trained); the refit is recorded beside it, and
    # the model card's retraining commands end with it
    refit = {**vars(args), "checkpoint": str(source), "wall_clock_s": round(seconds, 1)}
    save_model(model, partial, recipe={**read_config(source).get("recipe", {}), "refit_decoder": refit})
    carry_over(source, partial, model)
    partial.rename(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
