"""CarRacing's car as a kinematic car, for one WorldSim step (2 Box2D frames of 20 ms).

Structure from CarRacing's `car_dynamics.py`: the hull's nose points along its local +y axis, so
position moves by speed * (-sin psi, cos psi); the front wheels turn towards -steer rad at up to
3 rad/s and stop at the steering joint's limit, 0.4 rad (the state's `steering` field is their
angle), giving a kinematic yaw-rate target speed * tan(wheels) / L with wheelbase L = 3.24
(WHEELPOS y = +80 and -82, times SIZE = 0.02), which the yaw rate reaches with a lag. Engine and
brake limits are grip-limited in CarRacing, so they enter as constant rates. Constants measured on
CarRacing-v3 (state units are Box2D world units per second): full gas accelerates at ~44 u/s^2 at
any speed reached in an episode, full brake decelerates at ~220 u/s^2 to a stop, coasting loses
< 0.2 % per second, the yaw rate settles in ~0.15 s.
The grass squares' phases move with x and y. The track's centre line around the car
(`worldsim.sources.track_view`: samples anchored to the car's place on the line, in the car's frame)
turns with the car and moves against its motion, while the anchor slides along the line by the part
of the motion along it: each sample moves along the polyline the samples draw, towards its neighbour,
so a bend ahead comes towards the car as it drives. Only the farthest sample ahead has no neighbour
to slide towards (it continues the last segment straight): what a curve brings into view is left to
the learned dynamics, as are wheels-off-track and progress (kept unchanged here). On the grass
(friction 0.6 of the road's) the car slides: there the prior's yaw rate is further off than holding
the last one (one-step error `scripts/prior_step_error.py`), and the learned correction must make
up the difference.
"""

from __future__ import annotations

import torch
from torch import nn

from worldsim.sources.track_view import GRASS_PERIOD, OFFSETS, field_names

WHEELBASE, MAX_WHEEL_ANGLE, STEER_RATE = 3.24, 0.4, 3.0
GAS_ACCEL, BRAKE_DECEL, YAW_LAG_S = 44.0, 220.0, 0.15
FRAME_S, FRAMES = 0.02, 2


class CarPrior(nn.Module):
    # Fields this prior steps exactly from the others (position and heading from the speed and yaw
    # rate, the road samples from themselves and the car's motion): under `"dynamics": "kinematic"`
    # the learned correction leaves them alone. The road samples are among them because a learned
    # step that may move the road reads the steering as evidence of where the road lies (drivers
    # steer towards it), and a dream's road then swings towards the wheel; only the farthest sample,
    # which has nothing to slide along, stays learned.
    KINEMATIC = ("x", "y", "heading", "grass_x_phase", "grass_y_phase", *field_names(OFFSETS[:-1]))

    def __init__(self, state_fields: list[str]):
        super().__init__()
        if state_fields[:5] != ["x", "y", "speed", "heading", "angular_velocity"]:
            raise ValueError(f"car prior needs x, y, speed, heading, angular_velocity first, got {state_fields[:5]}")
        # Fields are picked by index_select and put back by index_copy: ONNX export takes those.
        # The grass squares' phases (worldsim.sources.games) follow x and y exactly.
        phases = [state_fields.index(f) for f in ("grass_x_phase", "grass_y_phase") if f in state_fields]
        self.grass = len(phases) == 2
        self.steering = state_fields.index("steering") if "steering" in state_fields else None
        self.register_buffer("steering_index", torch.tensor([self.steering or 0], dtype=torch.long), persistent=False)
        self.register_buffer("grass_index", torch.tensor(phases if self.grass else [], dtype=torch.long), persistent=False)
        # The centre-line samples, (right, ahead) per offset, and the two samples the line's
        # direction under the car is read from (those nearest behind and ahead of the car's place).
        names = field_names()
        self.road = set(names) <= set(state_fields)
        road = [state_fields.index(n) for n in names] if self.road else []
        self.register_buffer("road_index", torch.tensor(road, dtype=torch.long), persistent=False)
        self.tangent = (OFFSETS.index(max(o for o in OFFSETS if o < 0)), OFFSETS.index(min(o for o in OFFSETS if o > 0)))

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """state (B, S), the car fields first; action (B, 3) = steer [-1, 1], gas [0, 1], brake [0, 1]."""
        x, y, speed, psi, yaw_rate = state[:, :5].unbind(-1)
        start_psi = psi
        steer, gas, brake = action.unbind(-1)
        # CarRacing ramps gas by 0.1 per frame, so any gas above ~0.1 gives the full grip-limited push.
        push = GAS_ACCEL * (10 * gas).clamp(0, 1) - BRAKE_DECEL * brake.clamp(0, 1)
        # The steering joint aims at -steer rad, turns at min(50 |error|, 3) rad/s and stops at its
        # limit; without the wheels' angle in the state, they are taken to be where they aim.
        aim = -steer.clamp(-1, 1)
        wheel = state[:, self.steering] if self.steering is not None else aim.clamp(-MAX_WHEEL_ANGLE, MAX_WHEEL_ANGLE)
        for _ in range(FRAMES):
            turn = (aim - wheel).clamp(-STEER_RATE * FRAME_S, STEER_RATE * FRAME_S)
            wheel = (wheel + turn).clamp(-MAX_WHEEL_ANGLE, MAX_WHEEL_ANGLE)
            target_rate = speed * torch.tan(wheel) / WHEELBASE
            yaw_rate = yaw_rate + (target_rate - yaw_rate) * (FRAME_S / YAW_LAG_S)
            x = x - speed * torch.sin(psi) * FRAME_S
            y = y + speed * torch.cos(psi) * FRAME_S
            psi = psi + yaw_rate * FRAME_S
            speed = (speed + push * FRAME_S).clamp(min=0.0)
        turned = psi - start_psi
        psi = torch.atan2(torch.sin(psi), torch.cos(psi))  # the state keeps headings in (-pi, pi]
        out = torch.cat([torch.stack([x, y, speed, psi, yaw_rate], -1), state[:, 5:]], -1)
        if self.steering is not None:
            out = out.index_copy(1, self.steering_index, wheel[:, None])
        moved = torch.stack([x, y], -1) - state[:, :2]
        if self.road:
            road = state.index_select(1, self.road_index).unflatten(1, (-1, 2))
            out = out.index_copy(1, self.road_index, self._road(road, moved, start_psi, turned).flatten(1))
        if self.grass:
            phase = state.index_select(1, self.grass_index) + 2 * torch.pi * moved / GRASS_PERIOD
            out = out.index_copy(1, self.grass_index, torch.atan2(torch.sin(phase), torch.cos(phase)))
        return out

    def _road(self, road: torch.Tensor, moved: torch.Tensor, psi: torch.Tensor, turned: torch.Tensor) -> torch.Tensor:
        """road (B, K, 2) samples as (right, ahead) before the step; moved (B, 2) the car's world
        displacement, psi (B,) its heading before the step and turned (B,) the heading's change."""
        cos, sin = torch.cos(psi), torch.sin(psi)
        # The displacement in the car's frame before the step: right is (cos, sin), ahead (-sin, cos).
        step = torch.stack([moved[:, 0] * cos + moved[:, 1] * sin, -moved[:, 0] * sin + moved[:, 1] * cos], -1)
        behind, ahead = self.tangent
        tangent = road[:, ahead] - road[:, behind]
        tangent = tangent / tangent.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        along = (step * tangent).sum(-1, keepdim=True)  # (B, 1): how far the anchor slides
        relative = self._slide(road, along) - step[:, None]  # the slid samples from where the car is now
        # Seen from a car turned by `turned` (left positive), a fixed point turns the other way.
        c, s = torch.cos(turned)[:, None], torch.sin(turned)[:, None]
        right, ahead_ = relative.unbind(-1)
        return torch.stack([right * c + ahead_ * s, -right * s + ahead_ * c], -1)

    @staticmethod
    def _slide(road: torch.Tensor, along: torch.Tensor) -> torch.Tensor:
        """Each sample of road (B, K, 2) moved `along` (B, 1) track units along the polyline the
        samples draw: towards the next sample when positive, the previous one when negative. The
        ends continue their segment straight. A step moves a sample less than one segment (~7 u
        apart, a step drives < 5 u), so it stops at its neighbour rather than turning past it."""
        first, last = road[:, :1], road[:, -1:]
        previous = torch.cat([2 * first - road[:, 1:2], road[:, :-1]], 1)
        following = torch.cat([road[:, 1:], 2 * last - road[:, -2:-1]], 1)
        towards = torch.where(along[:, :, None] >= 0, following, previous) - road
        length = towards.norm(dim=-1).clamp(min=1e-6)
        share = (along.abs() / length).clamp(max=1.0)
        return road + towards * share[:, :, None]
