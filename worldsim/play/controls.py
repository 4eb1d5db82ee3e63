"""What the player's keys and mouse mean in each domain, and the help line shown for them."""

from __future__ import annotations

import numpy as np

from worldsim.envs.keys import keys_to_action, noop_action

HELP = {
    "driving": "up/down: lane left/right   right/left: faster/slower",
    "robotics": "mouse or arrows: move the target the agent follows",
    "games": "left/right: steer   up: gas   down: brake",
}
COMMON_HELP = "R reset  SPACE pause  N step  TAB dream/real/both  [ ] alpha  V record  Q quit"
TARGET_SPEED = 8.0  # PushT units per display frame while an arrow is held


class Controls:
    """Turns the held keys (and, for PushT, the mouse) into the domain's action."""

    def __init__(self, domain: str, pygame):
        self.domain, self.pygame = domain, pygame
        self.bindings = keys_to_action(domain) if domain != "robotics" else {}
        self.noop = noop_action(domain) if domain != "robotics" else None
        self.keys = sorted({k for combo in self.bindings for k in combo})
        self.target = np.array([256.0, 256.0], dtype=np.float32)  # PushT: middle of the table

    @property
    def help(self) -> str:
        return HELP.get(self.domain, "")

    def action(self, pressed, mouse: tuple[float, float] | None = None):
        """`pressed`: the set of held key codes; `mouse`: its position as fractions of the view."""
        if self.domain == "robotics":
            return self._target(pressed, mouse)
        held = tuple(sorted(k for k in self.keys if k in pressed))
        if held in self.bindings:
            return self.bindings[held]
        # More keys than any binding names (e.g. up and down together): keep the first listed one.
        for combo, action in self.bindings.items():
            if set(combo) <= set(held):
                return action
        return self.noop

    def _target(self, pressed, mouse):
        pg = self.pygame
        step = TARGET_SPEED * np.array(
            [(pg.K_RIGHT in pressed) - (pg.K_LEFT in pressed), (pg.K_DOWN in pressed) - (pg.K_UP in pressed)],
            dtype=np.float32,
        )
        if step.any():
            self.target = np.clip(self.target + step, 0.0, 512.0)
        elif mouse is not None:
            self.target = np.clip(np.asarray(mouse, dtype=np.float32) * 512.0, 0.0, 512.0)
        return self.target.copy()
