"""Fit the car prior's step of CarRacing's wheels' spin rates (`worldsim.model.physics.games.SPIN`).

For every transition of a games dataset recorded with the wheels' spin rates (`wheel{i}_omega`, the
dashboard's ABS bars), least squares one step ahead of each pair of wheels (front, rear) on

    omega' - omega = follow * (speed' / radius - omega) + gas * (push + grass * wheels on grass / 4)
                     - brake * stop * sign(omega)

over the steps whose brake does not lock the wheels (those stop them), with the gas as the prior
takes it (10 x the action, at most 1). Prints the four terms per wheel as SPIN lists them, and the
fit's and holding the rate's root-mean-square error on each pair.

Usage: python scripts/fit_spin_rates.py [DATA=data/games-wander] [--episodes 210]
"""

from __future__ import annotations

import argparse

import numpy as np

from worldsim.data import Dataset
from worldsim.data.dataset import field_columns
from worldsim.model.physics.games import LOCKING_BRAKE, WHEEL_RADIUS
from worldsim.sources.games import OMEGA_FIELDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="data/games-wander")
    parser.add_argument("--episodes", type=int, default=210)
    args = parser.parse_args()
    data = Dataset(args.data)
    speed, off, *rates = field_columns(data.source, ["speed", "wheels_off_track", *OMEGA_FIELDS], data.root)
    before, after, actions = [], [], []
    for index in range(min(args.episodes, len(data))):
        episode = data.episode(index)
        before.append(episode.states[:-1])
        after.append(episode.states[1:])
        actions.append(episode.actions)
    before, after, actions = np.concatenate(before), np.concatenate(after), np.concatenate(actions)
    gas, brake = np.clip(10 * actions[:, 1], 0, 1), np.clip(actions[:, 2], 0, 1)
    free = brake < LOCKING_BRAKE
    rolling = after[:, speed] / WHEEL_RADIUS
    terms = {}
    print(f"{args.data}: {free.sum()} steps of {len(free)} without a locking brake")
    for pair, wheels in (("front", rates[:2]), ("rear", rates[2:])):
        omega, target = before[:, wheels].reshape(-1), after[:, wheels].reshape(-1)
        keep = np.repeat(free, 2)
        g, b, r, o = np.repeat(gas, 2), np.repeat(brake, 2), np.repeat(rolling, 2), np.repeat(before[:, off] / 4, 2)
        x = np.stack([r - omega, g, g * o, -b * np.sign(omega)], 1)[keep]
        coef, *_ = np.linalg.lstsq(x, (target - omega)[keep], rcond=None)
        fitted = np.sqrt(np.mean((omega[keep] + x @ coef - target[keep]) ** 2))
        held = np.sqrt(np.mean((omega[keep] - target[keep]) ** 2))
        terms[pair] = coef
        print(
            f"  {pair}: follow {coef[0]:.3f}, gas {coef[1]:.2f}, gas on the grass {coef[2]:.2f}, brake {coef[3]:.2f}; "
            f"rms error {fitted:.2f} rad/s (held: {held:.2f})"
        )
    print("SPIN = (")
    for k, name in enumerate(("SPIN_FOLLOW", "SPIN_GAS", "SPIN_GAS_GRASS", "SPIN_BRAKE")):
        f, r = terms["front"][k], terms["rear"][k]
        print(f"    ({f:.3g}, {f:.3g}, {r:.3g}, {r:.3g}),  # {name}")
    print(")")


if __name__ == "__main__":
    main()
