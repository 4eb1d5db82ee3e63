"""Correct the dream's rewards where an agent goes: refit the heads on its own real trajectories.

    python agents/correct_heads.py --domain games --agent runs/transfer/games-20k/dream-seed0/final.zip \\
        --episodes 10 --out runs/heads/games

`agents/diagnose.py` shows the failure this answers: the dream-trained agent steers the dream to
states the behaviour data never showed, and there the reward head pays for nothing. The agent plays
--episodes episodes on the real simulator, sampling its actions so the data also cover what it
nearly did; the world model's reward and termination heads, and only they
(`worldsim.model.heads`), are refitted on those episodes mixed with windows of the model's own
training data (--data, --own-share of each batch from the agent) so that they keep what they knew.
Encoder, dynamics and decoder stay bit-identical: real-simulator observations, and so agents
trained on either checkpoint, are unchanged.

Writes a checkpoint directory usable anywhere a run is (`--checkpoint`): the source's files (less
its model card and evaluation, which describe the old heads), the new weights, and correction.json
with the real steps and the wall-clock the correction spent (an agent trained in the corrected
dream has used those real steps too).

The command line of `worldsim.agents.correct.correct_heads`.
"""

from __future__ import annotations

import argparse

from worldsim import domains
from worldsim.agents.correct import CorrectionConfig, correct_heads


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True, choices=domains.names())
    p.add_argument("--checkpoint", help="world model to correct (default: the shipped weights)")
    p.add_argument("--agent", required=True, help="the SB3 agent (zip) whose trajectories to fit")
    p.add_argument("--obs-type", default="latent", choices=["pixels", "latent", "state"])
    p.add_argument("--episodes", type=int, default=10, help="real episodes the agent plays (default 10)")
    p.add_argument("--episode-steps", type=int)
    p.add_argument("--data", help="the model's training data, mixed in (default: data/<domain>)")
    p.add_argument("--own-share", type=float, default=0.5, help="share of each batch from the agent's episodes")
    p.add_argument("--steps", type=int, default=600, help="head-fitting steps (default 600)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("--out", required=True, help="new checkpoint directory")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    return correct_heads(CorrectionConfig(**vars(parse(argv))))


if __name__ == "__main__":
    r = main()
    print(
        f"corrected heads written to {r['out']}: {r['real_steps']} real steps ({r['play_wall_clock_s']:.0f} s), "
        f"fit {r['fit_wall_clock_s']:.0f} s, head loss {r['loss_first']:.3f} -> {r['loss_last']:.3f}"
    )
