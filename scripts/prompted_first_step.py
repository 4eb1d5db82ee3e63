"""How often the dream ends a prompted start at its first step, prompt by prompt.

    python scripts/prompted_first_step.py [--within K] PROMPTS.yaml DIR [DIR ...]

For each model directory (or built-in name) and each prompt of the set that asks for attributes:
16 scenes (seeds 0-15, as `eval-prompts` draws them), each stepped once with the domain's calm
action under four noise draws; the share the dream ends there (the termination head or the
domain's crash rule, as the env ends it), and for driving the share highway-env, made to start from
the same states (`worldsim.sources.driving_start`), ends within 3 steps, and the share whose ego the
dream moves to another lane at that calm step (the first noise draw; highway-env's IDLE ego keeps
its lane). With --within K, also the share the dream ends within K calm steps (mean over the
draws) and, for driving, the share the simulator ends within K. Prints one row per prompt and the
mean over prompts.
BENCHMARKS.md, "Numbers in prompts".
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from worldsim.envs.keys import calm_action
from worldsim.language.prompt_sets import load_prompt_set
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.scene import generate_scenes
from worldsim.model.text import load_shared_space

SEEDS, DRAWS = 16, 4


@torch.no_grad()
def first_step_endings(directory: str, prompts: list[str], within: int = 0) -> dict[str, list[float]]:
    """Per prompt: the share of starts the dream ends at its first step ("dream") and, for driving,
    the share the simulator ends within 3 ("simulator") and the share whose ego the dream's first
    step moves to another lane ("ego lane moved"); with `within`, the dream's and the simulator's
    endings within that many calm steps."""
    path = resolve_checkpoint(directory)
    model, _ = load_model(path)
    space = load_shared_space(path, world_model=model)[0]
    shares: dict[str, list[float]] = {"dream": [], "simulator": [], "ego lane moved": []}
    longer = {f"dream within {within}": [], f"simulator within {within}": []} if within else {}
    shares.update(longer)
    for prompt in prompts:
        scenes = generate_scenes(model, space, prompt, [torch.Generator().manual_seed(s) for s in range(SEEDS)], draw=False)
        action = torch.as_tensor(calm_action(model.config.domain, list(model.config.state_fields), scenes.states))
        after = [model.step(scenes.latents, action, torch.Generator().manual_seed(d)) for d in range(DRAWS)]
        ended = [model.crash_signal(latent, rule=True).float().mean() for latent in after]
        shares["dream"].append(float(torch.stack(ended).mean()))
        if within:
            held = action[:, None].repeat_interleave(within, 1)
            rollouts = [model.imagine(scenes.latents, held, generator=torch.Generator().manual_seed(d)) for d in range(DRAWS)]
            ended_within = [model.crash_signal(r.latents, rule=True).any(1).float().mean() for r in rollouts]
            shares[f"dream within {within}"].append(float(torch.stack(ended_within).mean()))
        if model.config.domain == "driving":
            from worldsim.sources.driving import lane_index
            from worldsim.sources.driving_start import simulated_endings

            simulated = simulated_endings(scenes.states, model.config.state_fields, max(3, within))
            shares["simulator"].append(float(simulated[:, 2].mean()))
            if within:
                shares[f"simulator within {within}"].append(float(simulated[:, within - 1].mean()))
            ego_y = model.config.state_fields.index("ego_y")
            moved = lane_index(model.physical_state(after[0])[:, ego_y].cpu().numpy()) != lane_index(scenes.states[:, ego_y])
            shares["ego lane moved"].append(float(moved.mean()))
    return {name: values for name, values in shares.items() if values}


def main(argv: list[str]) -> int:
    within = 0
    if argv[:1] == ["--within"] and len(argv) > 1:
        within, argv = int(argv[1]), argv[2:]
    if len(argv) < 2 or within < 0:
        print(__doc__)
        return 2
    prompt_set = load_prompt_set(argv[0])
    prompts = [case.text for case in prompt_set.cases if case.attributes]
    columns = {}
    for number, directory in enumerate(argv[1:], 1):
        print(f"[{number}] {directory}")
        for name, values in first_step_endings(directory, prompts, within).items():
            columns[f"{name} [{number}]"] = values
    print(f"{'prompt':60s}" + "".join(f"{label:>24s}" for label in columns))
    for i, prompt in enumerate(prompts):
        print(f"{prompt[:60]:60s}" + "".join(f"{values[i]:24.2f}" for values in columns.values()))
    print(f"{'mean over prompts':60s}" + "".join(f"{np.mean(values):24.2f}" for values in columns.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
