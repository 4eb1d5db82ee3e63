"""Where generated driving starts stand against real ones: for each model directory, 16 scenes per
prompt of the dev and held-out sets (one draw each), the share with a car on the ego, with two cars
stacked in one lane (`worldsim.model.crash`), the closest pair of other cars sharing a lane
(percentiles, metres) and the share with a car ahead in the ego's lane that the ego reaches within
3 s at their speeds; beside the same for real states of `data/driving` (every step, and each
episode's first), with the share of real states the spacing of generated starts would move. For
generated starts also the simulator's verdict (`worldsim.sources.driving_start`): the share it ends
within 5 steps, of the stacked starts and of the others; and the share whose first dreamt step
under IDLE moves the ego to another lane, beside the same from the starts of
`data/eval/driving-long`'s episodes (IDLE keeps the lane in highway-env). For the first directory
also the first dev start the simulator ends, followed step by step, and, with its dev prompts'
starts spaced further apart along their lanes than the shipped 20.5 m (`worldsim.model.spacing`),
how often the whole prompt holds on the state and how often the simulator ends them within 5 steps.
BENCHMARKS.md, "Prompted driving starts the dream ends at once" and "Generated driving starts
spaced as highway-env spaces its traffic".

Usage: python scripts/generated_starts.py [DIR ...]   (default: the shipped driving weights)
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from worldsim import domains
from worldsim.data import Dataset
from worldsim.envs.keys import calm_action
from worldsim.language.prompt_sets import load_prompt_set
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.crash import EGO_FIELDS, NEIGHBOUR_FIELDS, cars_on_the_ego, cars_stacked
from worldsim.model.scene import generate_scenes
from worldsim.model.spacing import SPACING_M, spaced_in_lanes
from worldsim.model.text import load_shared_space
from worldsim.prompt_eval import episode_starts
from worldsim.sources.driving import nearest_first
from worldsim.sources.driving_start import simulated_endings

SEEDS = 16


def closest_pair(states: np.ndarray) -> np.ndarray:
    """(N,) the smallest gap along the road between two present other cars within 2 m across (inf: none)."""
    cars = states[:, EGO_FIELDS:].reshape(len(states), -1, NEIGHBOUR_FIELDS)
    i, j = np.triu_indices(cars.shape[1], 1)
    both = (cars[:, i, 0] > 0.5) & (cars[:, j, 0] > 0.5) & (np.abs(cars[:, i, 2] - cars[:, j, 2]) < 2)
    return np.where(both, np.abs(cars[:, i, 1] - cars[:, j, 1]), np.inf).min(1)


def contact_within(states: np.ndarray, seconds: float) -> np.ndarray:
    """(N,) bool: a present car ahead in the ego's lane (within 2 m across) that the ego, faster,
    reaches within `seconds` at both speeds (the gap less a car's 5 m length)."""
    cars = states[:, EGO_FIELDS:].reshape(len(states), -1, NEIGHBOUR_FIELDS)
    ahead = (cars[..., 0] > 0.5) & (np.abs(cars[..., 2]) < 2) & (cars[..., 1] > 0)
    closing = states[:, 2:3] - cars[..., 3]  # ego_vx minus the car's
    return (ahead & (closing > 0) & (cars[..., 1] - 5.0 < seconds * closing)).any(1)


def lane_jumps(model, latents: torch.Tensor) -> float:
    """The share of dreams whose first step under the calm action (IDLE) moves the ego's lateral
    place by more than half a lane."""
    start = model.physical_state(latents).cpu().numpy()
    action = calm_action("driving", model.config.state_fields, start)
    with torch.no_grad():
        rollout = model.imagine(latents, torch.from_numpy(action[:, None]), generator=torch.Generator().manual_seed(0))
    y = model.config.state_fields.index("ego_y")
    return float((np.abs(rollout.states[:, 0, y].cpu().numpy() - start[:, y]) > 2.0).mean())


def _share(ended: np.ndarray, picked: np.ndarray) -> str:
    return f"{ended[picked].mean():.2f}" if picked.any() else "- (none)"


def describe(name: str, states: np.ndarray, fields) -> str:
    gaps = closest_pair(states)
    finite = gaps[np.isfinite(gaps)]
    pct = " / ".join(f"{v:.1f}" for v in np.percentile(finite, [1, 5, 50])) if len(finite) else "-"
    return (
        f"{name}: {len(states)} states, a car on the ego {cars_on_the_ego(states, fields).mean():.3f}, "
        f"two stacked in a lane {cars_stacked(states, fields).mean():.3f}, "
        f"closest pair in a lane (1st / 5th / 50th pct) {pct} m, "
        f"a car ahead reached within 3 s {contact_within(states, 3.0).mean():.3f}"
    )


def main(dirs: list[str]) -> None:
    data = Dataset("data/driving")
    fields = [f["name"] for f in data.source["state_fields"]]
    episodes = [data.episode(i) for i in data.indices()]
    every = np.concatenate([e.states for e in episodes]).astype(np.float32)
    print(describe("real, every step", every, fields))
    moved = np.abs(spaced_in_lanes(every, fields) - every).max(1)
    print(f"  the spacing moves {(moved > 1e-4).mean():.4f} of them, by at most {moved.max():.1f} m")
    print(describe("real, first states", np.stack([e.states[0] for e in episodes]), fields))
    cases = {split: load_prompt_set(f"scenarios/prompts/driving-{split}.yaml").cases for split in ("dev", "heldout")}
    cases = {split: [c for c in found if c.kind != "out_of_range"] for split, found in cases.items()}
    for index, name in enumerate(dirs):
        path = resolve_checkpoint(name)
        model, _ = load_model(path)
        if index == 0:
            held = Dataset("data/eval/driving-long")
            real = episode_starts(model, [held.episode(i) for i in range(len(held))], 4)[0]
            print(f"  the dream moves the ego a lane at the first IDLE step from real starts: {lane_jumps(model, real):.3f}")
        space, _ = load_shared_space(path, world_model=model)
        with torch.no_grad():
            scenes = {
                split: [
                    generate_scenes(model, space, c.text, [torch.Generator().manual_seed(s) for s in range(SEEDS)], draw=False)
                    for c in found
                ]
                for split, found in cases.items()
            }
        dev = list(zip(cases["dev"], scenes["dev"], strict=True))
        scenes = scenes["dev"] + scenes["heldout"]
        states = np.concatenate([scene.states for scene in scenes])
        print(describe(str(name), states, model.config.state_fields))
        stacked = cars_stacked(states, model.config.state_fields)
        ended = simulated_endings(states, model.config.state_fields, 5)[:, -1]
        within = f"stacked {_share(ended, stacked)}, the others {_share(ended, ~stacked)}"
        print(f"  the simulator ends within 5 steps: {within}")
        jumps = lane_jumps(model, torch.cat([scene.latents for scene in scenes]))
        print(f"  the dream moves the ego a lane at the first IDLE step: {jumps:.3f}")
        if index == 0:
            dev_states = np.concatenate([scene.states for _, scene in dev])  # the first rows of `states`
            trace_first_ending(dev_states[ended[: len(dev_states)]][0], model)
            wider_spacings(model, dev)


def trace_first_ending(state: np.ndarray, model) -> None:
    """The first dev start the simulator ends within 5 steps, followed step by step (IDLE): each
    vehicle's place along the road relative to the ego, its lane's y and its speed."""
    import gymnasium as gym
    import highway_env  # noqa: F401  (registers the highway-env ids)

    from worldsim.sources.driving_start import IDLE, place

    env = gym.make("highway-fast-v0")
    env.reset(seed=0)
    core = env.unwrapped
    place(core, state, model.config.state_fields)
    ego, others = core.vehicle, list(core.road.vehicles[1:])
    print("  the first dev start the simulator ends, step by step (dx m, y m, speed m/s; X: crashed):")
    step, ended = 0, False
    while True:
        cells = [(v.position[0] - ego.position[0], v.position[1], v.speed, ", X" if v.crashed else "") for v in others]
        cars = ", ".join(f"({dx:.1f}, {y:.0f}, {speed:.1f}{crashed})" for dx, y, speed, crashed in cells)
        print(f"    step {step}: ego y {ego.position[1]:.0f} speed {ego.speed:.1f}; {cars}")
        if ended or step == 5:
            break
        ended, step = env.step(IDLE)[2], step + 1
    env.close()


def wider_spacings(model, dev) -> None:
    """The dev prompts' starts (`dev`: each case with its generated scenes) spaced at wider gaps
    than the shipped one: the words on the state and the simulator's endings within 5 steps. IDM
    wants 10 m + 1.5 s of speed between cars (40 m at 20 m/s) and brakes hard inside it, and IDLE
    does not brake for it."""
    fields = model.config.state_fields
    table = domains.get("driving").load("attributes")
    for gap in (SPACING_M, 25.0, 30.0, 40.0):
        holds, states = [], []
        for case, scenes in dev:
            spaced = nearest_first(spaced_in_lanes(scenes.states, fields, gap), fields)
            checked = table.check(case.attributes, spaced, fields)
            holds += np.all([checked[n] for n in case.attributes], 0).tolist()
            states.append(spaced)
        ended = simulated_endings(np.concatenate(states), fields, 5)[:, -1]
        words = f"whole prompt on the state {np.mean(holds):.3f}"
        print(f"  dev starts spaced {gap:.1f} m: {words}, the simulator ends within 5 steps {ended.mean():.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["driving"])
