"""CarRacing's car as a kinematic car, for one WorldSim step (2 Box2D frames of 20 ms).

Structure from CarRacing's `car_dynamics.py`: the hull's nose points along its local +y axis, so
position moves by speed * (-sin psi, cos psi); the front wheels turn towards -steer rad at up to
3 rad/s and stop at the steering joint's limit, 0.4 rad (the state's `steering` field is their
angle), giving a kinematic yaw-rate target speed * tan(wheels) / L with wheelbase L = 3.24
(WHEELPOS y = +80 and -82, times SIZE = 0.02), which the yaw rate reaches with a lag; the tyres'
grip bounds the sideways acceleration (speed * yaw rate) the target asks for, less on the grass.
The speed follows the gas, brake and drag, on the road and on the grass (mixed by the wheels on
grass): on the road full gas pushes at 52 (1 - v / 70) u/s^2 (the engine's power fades towards its
top speed), the brake at 241 u/s^2 and drag takes 0.04 v; on the grass the driven wheels spin, so
gas pushes at 13.2 - 0.49 v (nothing above ~27 u/s, a brake on faster cars), the brake at 51 and
drag takes 0.16 v. The yaw rate's time constant (0.08 s) and grip (180 u/s^2 on the road,
CarRacing's 0.6 of it on the grass) likewise. All were fitted to the recorded steps of
`data/games-wander` (state units are Box2D world units per second; `scripts/prior_step_error.py`
measures them; BENCHMARKS.md).
The grass squares' phases move with x and y. The track's centre line around the car
(`worldsim.sources.track_view`: samples anchored to the car's place on the line, in the car's frame)
turns with the car and moves against its motion, while the anchor slides along the line to the
car's projection onto it: the samples are read anew off the curve through them, at the
simulator's 7 u spacing from the anchor's new place, so a bend ahead comes towards the car as it
drives. What comes into view beyond the farthest sample is the track's own process, which no
action steers: per 7 u chord of new track the farthest chord's turn eases off, and where the dream
passes noise, bends begin at random, as sharp as CarRacing's (fitted by
`scripts/fit_track_process.py`). A learned farthest
sample read the wheel into the road (drivers steer along bends they see coming): the dream's track
bent the way the car steered, and agents trained in it were paid for steering anywhere
(`ModelConfig.prior_noise` makes the farthest sample the prior's alone). Wheels-off-track and
progress are kept unchanged here. What only the frame shows moves with the car: the tiles' phase by
the anchor's slide along the line, the score by the step's reward as `reward` reads it, and each
wheel's spin by the distance rolled (a wheel rolls without slipping here, and stands while the
brake locks it); the tiles' touched and kerb flags ride with the tiles, the tiles under the car
become touched, and the tiles coming into view get their kerbs from the track the prior lays.
On the grass the car often spins on (its yaw rate follows the wheels over seconds): there the
prior's yaw rate is further off than holding the last one, and the learned correction must make
up the difference. A prior whose yaw rate followed
the wheels that slowly on the grass predicted one step better but rolled the heading further off
over 50 to 200 steps, where a dream lives.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from worldsim.sources.games import (
    FIELD_BOUNDS,
    KERB_FIELDS,
    OMEGA_FIELDS,
    PAINT_FIELDS,
    TILE_CYCLE,
    TILE_OFFSETS,
    TOUCHED_FIELDS,
    WHEEL_FIELDS,
    WHEEL_RADIUS,
)
from worldsim.sources.track_view import GRASS_PERIOD, OFFSETS, POINT_SPACING, field_names

WHEELBASE, MAX_WHEEL_ANGLE, STEER_RATE = 3.24, 0.4, 3.0
ROAD_GAS, TOP_SPEED, ROAD_BRAKE, ROAD_DRAG = 52.0, 70.0, 241.0, 0.04  # u/s^2, u/s, u/s^2, 1/s
GRASS_GAS, GRASS_GAS_FADE, GRASS_BRAKE, GRASS_DRAG = 13.2, 0.49, 51.0, 0.16
YAW_LAG_S = 0.08
LATERAL_GRIP, GRASS_GRIP = 180.0, 0.6  # u/s^2 on the road; the grass's share of it
# CarRacing's track turns by at most 0.62 rad from one 7 u chord of the view's samples to the next
# (the first 100 episodes of data/games-wander); the farthest sample, the learned one, is kept within that.
MAX_TRACK_TURN = 0.62
# The track coming into view, per 7 u chord driven along the line. CarRacing's tracks run straight
# between bends that turn sharply and then ease off (read as the state reads them, 63 % of their
# chords turn by less than 0.02 rad, 16 % by more than 0.2; a chord's turn and the next one's
# correlate 0.73, two chords on 0.35, four 0.00): the farthest chord's turn eases off by a factor
# TRACK_EASE per chord driven, and bends begin at random, TRACK_BENDS per chord driven (a Poisson
# process in the distance), each with a kick of TRACK_KICK rad (uniformly between the two), to the
# left in a share TRACK_LEFT of them (the tracks loop anticlockwise). Fitted by `python
# scripts/fit_track_process.py` to CarRacing's own tracks: the grid's nearest points trade the
# share of straight chords against the turns' spread (0.2 bends a chord: 39 % straight, standard
# deviation 0.13 rad; 0.16: 48 %, 0.12; the tracks: 63 %, 0.19), none has both (a kick resampled
# as the car drives is smoother than CarRacing's bends), and the middle one is used; laid alone it
# turns 13 % of its chords by more than 0.2 rad, autocorrelation 0.82 / 0.46 / -0.02. The process
# fitted before (a bend tightening as it began to, with a Gaussian random part) never ran straight
# (8 % of chords), and once the road's samples were read off a cubic (`_resample`) it wound into
# circles, every chord at CarRacing's sharpest turn: the linear resampling's corner cutting had
# been what held it back.
TRACK_EASE, TRACK_BENDS, TRACK_KICK, TRACK_LEFT = 0.35, 0.16, (0.45, 0.62), 0.68
FRAME_S, FRAMES = 0.02, 2
# CarRacing pays 1000 / N for each of the track's N tiles the car first touches (tiles are the
# 3.5 u pieces between the centre line's points, so about 1 per unit driven along the track
# whatever its length) and takes 0.1 per frame. Read off the step: REWARD_PER_UNIT for each unit
# the car's place on the line moves forward while it is within TILE_REACH of the centre line (the
# road's half-width, 6.7 u, plus the car), less STEP_COST. Fitted to data/games-wander (the slope
# of reward + 0.2 against that distance, 1.00 per u); over each of the 16 held-out episodes of
# data/eval/games-long-wander it gives the episode's return within 10 % where the car drives
# (409.7 paid, 435.5 read; 660.7 and 612.9), within 45 where it does not (-8.2 and -50.4).
REWARD_PER_UNIT, TILE_REACH, STEP_COST = 1.0, 9.0, 0.2
# car_dynamics' wheels: radius WHEEL_R * SIZE = 0.54 u; a brake of 0.9 or more locks them.
LOCKING_BRAKE = 0.9
# The wheels' spin rates (rad/s), as car_dynamics steps them each frame: the engine drives the rear
# wheels alone, by dt * ENGINE_POWER * gas / WHEEL_MOMENT_OF_INERTIA / (|omega| + 5) (so from rest
# they spin up at once); a brake below 0.9 takes 15 * brake a frame, one at 0.9 or more stops them;
# the tyre's grip pulls each towards rolling (omega * radius = the car's speed) with a force 82 per
# u/s of difference, at most FRICTION_LIMIT (0.6 of it on the grass), which turns the wheel by
# dt * force * radius / WHEEL_MOMENT_OF_INERTIA. (The sideways slip's share of the grip is left out.)
ENGINE_POWER, WHEEL_INERTIA, FRICTION_LIMIT, GRIP_PER_SPEED, BRAKE_SPIN = 40000.0, 1.6, 400.0, 82.0, 15.0
# CarRacing lays a kerb where its track turns by more than TRACK_TURN_RATE * 0.2 = 0.062 rad per
# point 4 points running, and on the 3 tiles before. A tile coming into view gets a kerb on the
# inside where the farthest chord (2 points) turns by more than KERB_START rad, and keeps the
# kerb of the tile before it while the chord turns the same way by more than KERB_GO_ON: of the
# new tiles of every third episode of data/games-wander, that rule's kerb is wrong on 8.7 % (one
# threshold alone: 12 % at best, 0.2-0.3 rad; a one-off comparison, the rule's own error is
# `scripts/prior_step_error.py`'s tile+12_kerb).
KERB_START, KERB_GO_ON = 0.3, 0.05
# The wheels touch the tiles (car_dynamics' wheels, 0.54 u long either side of their centres, 1.6 u
# ahead of the car's and 1.64 behind): a tile is touched where they reach along the line, 2.18 u
# behind the car's place to 2.14 ahead. Of the per-tile touched flags of data/eval/games-long-
# wander's steps, the prior's next ones are off in 0.7 % (the hull's box, 2.4 behind to 2.6
# ahead: 1.0 %, compared once; the flags' errors: `scripts/prior_step_error.py
# data/eval/games-long-wander --episodes 16`).
TOUCH_REACH = (2.18, 2.14)


class CarPrior(nn.Module):
    # Fields this prior steps exactly from the others (position and heading from the speed and yaw
    # rate, the road samples from themselves and the car's motion): under `"dynamics": "kinematic"`
    # the learned correction leaves them alone. The road samples are among them because a learned
    # step that may move the road reads the steering as evidence of where the road lies (drivers
    # steer towards it), and a dream's road then swings towards the wheel; only the farthest sample,
    # which has nothing to slide along, stays learned.
    KINEMATIC = ("x", "y", "heading", "grass_x_phase", "grass_y_phase", *field_names(OFFSETS[:-1]), *PAINT_FIELDS)
    # The prior's random part (ModelConfig.prior_noise): two standard normal draws per step lay the
    # track coming into view (whether a bend begins; its side and kick), and the fields it lays are
    # then the prior's alone.
    NOISE_DIM = 2
    NOISY = tuple(field_names(OFFSETS[-1:]))

    def __init__(self, state_fields: list[str]):
        super().__init__()
        if state_fields[:5] != ["x", "y", "speed", "heading", "angular_velocity"]:
            raise ValueError(f"car prior needs x, y, speed, heading, angular_velocity first, got {state_fields[:5]}")
        # Fields are picked by index_select and put back by index_copy: ONNX export takes those.
        # The grass squares' phases (worldsim.sources.games) follow x and y exactly.
        phases = [state_fields.index(f) for f in ("grass_x_phase", "grass_y_phase") if f in state_fields]
        self.grass = len(phases) == 2
        self.steering = state_fields.index("steering") if "steering" in state_fields else None
        self.off_track = state_fields.index("wheels_off_track") if "wheels_off_track" in state_fields else None
        # Fields with a range the learned correction could push a dream out of (constrain).
        bounded = [(state_fields.index(n), lo, hi) for n, (lo, hi) in FIELD_BOUNDS.items() if n in state_fields]
        self.register_buffer("bounded_index", torch.tensor([i for i, _, _ in bounded], dtype=torch.long), persistent=False)
        self.register_buffer("lower", torch.tensor([lo for _, lo, _ in bounded]), persistent=False)
        self.register_buffer("upper", torch.tensor([torch.inf if hi is None else hi for _, _, hi in bounded]), persistent=False)
        self.register_buffer("steering_index", torch.tensor([self.steering or 0], dtype=torch.long), persistent=False)
        self.register_buffer("grass_index", torch.tensor(phases if self.grass else [], dtype=torch.long), persistent=False)
        # what only the frame shows (worldsim.sources.games.PAINT_FIELDS), where the state holds it
        # (a state recorded before the per-tile fields has the first six alone)
        moving = ("tile_phase", "score", *WHEEL_FIELDS)
        self.painted = all(f in state_fields for f in moving)
        self.tiled = self.painted and all(f in state_fields for f in TOUCHED_FIELDS + KERB_FIELDS + OMEGA_FIELDS)
        paint = [state_fields.index(f) for f in (PAINT_FIELDS if self.tiled else moving)] if self.painted else []
        self.register_buffer("paint_index", torch.tensor(paint, dtype=torch.long), persistent=False)
        self.register_buffer("driven", torch.tensor([0.0, 0.0, 1.0, 1.0]), persistent=False)  # the rear wheels
        # The centre-line samples, (right, ahead) per offset.
        names = field_names()
        self.road = set(names) <= set(state_fields)
        road = [state_fields.index(n) for n in names] if self.road else []
        self.register_buffer("road_index", torch.tensor(road, dtype=torch.long), persistent=False)
        # Where each sample lies along the line from the car's place on it (track units).
        self.anchor = OFFSETS.index(0)
        self.first_tile = int(TILE_OFFSETS[0])
        self.register_buffer("spacing", torch.tensor(OFFSETS, dtype=torch.float32) * POINT_SPACING, persistent=False)
        self.chord = float(self.spacing[-1] - self.spacing[-2])  # 7 u
        self.ease, self.bends, self.kick, self.left = TRACK_EASE, TRACK_BENDS, TRACK_KICK, TRACK_LEFT

    def forward(self, state: torch.Tensor, action: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """state (B, S), the car fields first; action (B, 3) = steer [-1, 1], gas [0, 1], brake [0, 1];
        noise (B, NOISE_DIM) standard normal draws for the track coming into view (None: no bend begins)."""
        x, y, speed, psi, yaw_rate = state[:, :5].unbind(-1)
        start_psi = psi
        steer, gas, brake = action.unbind(-1)
        # CarRacing ramps gas by 0.1 per frame, so any gas above ~0.1 gives the full push.
        gas, brake = (10 * gas).clamp(0, 1), brake.clamp(0, 1)
        # The steering joint aims at -steer rad, turns at min(50 |error|, 3) rad/s and stops at its
        # limit; without the wheels' angle in the state, they are taken to be where they aim.
        aim = -steer.clamp(-1, 1)
        wheel = state[:, self.steering] if self.steering is not None else aim.clamp(-MAX_WHEEL_ANGLE, MAX_WHEEL_ANGLE)
        on_grass = state[:, self.off_track].clamp(0, 4) / 4 if self.off_track is not None else torch.zeros_like(speed)
        grip = LATERAL_GRIP * (1 - (1 - GRASS_GRIP) * on_grass)
        rolled = torch.zeros_like(speed)  # what the wheels roll over the step, units
        speeds = []  # the speed as each frame begins
        for _ in range(FRAMES):
            speeds.append(speed)
            turn = (aim - wheel).clamp(-STEER_RATE * FRAME_S, STEER_RATE * FRAME_S)
            wheel = (wheel + turn).clamp(-MAX_WHEEL_ANGLE, MAX_WHEEL_ANGLE)
            limit = grip / speed.clamp(min=1.0)  # the yaw rate the grip allows at this speed
            target_rate = torch.maximum(torch.minimum(speed * torch.tan(wheel) / WHEELBASE, limit), -limit)
            yaw_rate = yaw_rate + (target_rate - yaw_rate) * (FRAME_S / YAW_LAG_S)
            x = x - speed * torch.sin(psi) * FRAME_S
            y = y + speed * torch.cos(psi) * FRAME_S
            psi = psi + yaw_rate * FRAME_S
            on_road_push = ROAD_GAS * gas * (1 - speed / TOP_SPEED).clamp(min=0) - ROAD_BRAKE * brake - ROAD_DRAG * speed
            on_grass_push = gas * (GRASS_GAS - GRASS_GAS_FADE * speed) - GRASS_BRAKE * brake - GRASS_DRAG * speed
            speed = (speed + (on_road_push + (on_grass_push - on_road_push) * on_grass) * FRAME_S).clamp(min=0.0)
            rolled = rolled + speed * FRAME_S
        turned = psi - start_psi
        psi = torch.atan2(torch.sin(psi), torch.cos(psi))  # the state keeps headings in (-pi, pi]
        out = torch.cat([torch.stack([x, y, speed, psi, yaw_rate], -1), state[:, 5:]], -1)
        if self.steering is not None:
            out = out.index_copy(1, self.steering_index, wheel[:, None])
        moved = torch.stack([x, y], -1) - state[:, :2]
        if self.road:
            road = state.index_select(1, self.road_index).unflatten(1, (-1, 2))
            step, along = self.slide(road, moved, start_psi)
            out = out.index_copy(1, self.road_index, self._road(road, step, along, turned, noise).flatten(1))
            if self.painted:
                painted = self._painted_fields(state, road, along, rolled * (brake < LOCKING_BRAKE))
                if self.tiled:
                    laid = out.index_select(1, self.road_index).unflatten(1, (-1, 2))
                    tiles = self._tile_fields(state, road, along, laid)
                    rates = self._spin_rates(state, speeds, action[:, 1].clamp(0, 1), brake, on_grass)
                    painted = torch.cat([painted, tiles, rates], -1)
                out = out.index_copy(1, self.paint_index, painted)
        if self.grass:
            phase = state.index_select(1, self.grass_index) + 2 * torch.pi * moved / GRASS_PERIOD
            out = out.index_copy(1, self.grass_index, torch.atan2(torch.sin(phase), torch.cos(phase)))
        return out

    def _painted_fields(
        self, before: torch.Tensor, road: torch.Tensor, along: torch.Tensor, rolled: torch.Tensor
    ) -> torch.Tensor:
        """(B, 6): the tiles' phase, score and wheels' spin after a step from state `before` (B, S)
        with road samples `road` (B, K, 2) in which the car's place slid `along` (B, 1) the line
        and the wheels rolled `rolled` (B,) units."""
        tile, score, *wheels = before.index_select(1, self.paint_index[:6]).unbind(-1)
        tile = tile + 2 * torch.pi / TILE_CYCLE * along[:, 0] / POINT_SPACING
        spun = torch.stack(wheels, -1) + (rolled / WHEEL_RADIUS)[:, None]
        parts = torch.cat([tile[:, None], (score + self._paid(road, along))[:, None], spun], -1)
        angles = torch.atan2(torch.sin(parts), torch.cos(parts))
        return torch.cat([angles[:, :1], parts[:, 1:2], angles[:, 2:]], -1)

    def _tile_fields(self, before: torch.Tensor, road: torch.Tensor, along: torch.Tensor, laid: torch.Tensor) -> torch.Tensor:
        """(B, 2 T): the tiles' touched and kerb fields after a step from state `before` (B, S),
        with road samples `road` (B, K, 2) before it and `laid` after it, the car's place having
        slid `along` (B, 1) the line. The fields ride with the tiles: where the car's own tile
        changes, they shift by as many tiles. A tile coming into view ahead is untouched, with a
        kerb on the inside of the farthest chord the prior laid where it turns sharply
        (KERB_START, KERB_GO_ON); one coming into view behind (the car backing up) touched,
        without a kerb. Then the tiles under the car's wheels (TOUCH_REACH along the line) are
        touched while it is within reach of the road, as the reward takes it."""
        fields = before.index_select(1, self.paint_index)
        count, first = len(TOUCHED_FIELDS), PAINT_FIELDS.index(TOUCHED_FIELDS[0])
        touched, kerb = fields[:, first : first + count], fields[:, first + count : first + 2 * count]
        start = torch.remainder(fields[:, 0], 2 * torch.pi) / (2 * torch.pi) * TILE_CYCLE  # the car's place, in points
        moved = start + along[:, 0] / POINT_SPACING
        shift = (torch.ceil(moved) - torch.ceil(start)).long()
        source = torch.arange(count, device=before.device) + shift[:, None]  # (B, T): each tile's field before
        ahead, behind = source >= count, source < 0
        turn = chord_turns(laid)[:, -1:]
        inside = -torch.sign(turn)  # a left turn (positive) kerbs the left (-1)
        going_on = (kerb[:, -1:] == inside) & (turn.abs() > KERB_GO_ON)
        new_kerb = inside * ((turn.abs() > KERB_START) | going_on)
        kept = source.clamp(0, count - 1)
        touched = torch.where(ahead, 0.0, torch.where(behind, 1.0, touched.gather(1, kept)))
        kerb = torch.where(ahead, new_kerb, torch.where(behind, 0.0, kerb.gather(1, kept)))  # (B, 1) broadcasts
        # tile j (from the car's) covers (ceil(moved) + j - 1, ceil(moved) + j]; the wheels, TOUCH_REACH
        offsets = torch.arange(count, device=before.device) + self.first_tile
        frac = (moved - torch.ceil(moved))[:, None]
        behind_u, ahead_u = TOUCH_REACH
        under = (offsets > frac - behind_u / POINT_SPACING) & (offsets < frac + ahead_u / POINT_SPACING + 1)
        on_road = road[:, self.anchor].norm(dim=-1, keepdim=True) < TILE_REACH
        return torch.cat([torch.where(under & on_road, 1.0, touched), kerb], -1)

    def _spin_rates(
        self, before: torch.Tensor, speeds: list[torch.Tensor], gas: torch.Tensor, brake: torch.Tensor, on_grass: torch.Tensor
    ) -> torch.Tensor:
        """(B, 4): the wheels' spin rates after a step from state `before` (B, S) over frames at
        `speeds` (each (B,), the car's speed as each frame begins) under the action's `gas` and
        `brake` (B, each, 0..1), with a share of the wheels `on_grass` (B,): car_dynamics' step of
        them (ENGINE_POWER, BRAKE_SPIN, the grip's pull towards rolling)."""
        rates = before.index_select(1, self.paint_index[PAINT_FIELDS.index(OMEGA_FIELDS[0]) :])
        engine = FRAME_S * ENGINE_POWER / WHEEL_INERTIA * gas[:, None] * self.driven
        limit = (FRICTION_LIMIT * (1 - (1 - GRASS_GRIP) * on_grass))[:, None]  # car_dynamics' 0.6 on the grass
        locked = (brake >= LOCKING_BRAKE)[:, None]
        for speed in speeds:
            rates = rates + engine / (rates.abs() + 5.0)
            slowed = rates.sign() * (rates.abs() - BRAKE_SPIN * brake[:, None]).clamp(min=0.0)
            rates = torch.where(locked, torch.zeros_like(rates), slowed)
            force = (GRIP_PER_SPEED * (rates * WHEEL_RADIUS - speed[:, None])).clamp(-limit, limit)
            rates = rates - FRAME_S * force * WHEEL_RADIUS / WHEEL_INERTIA
        return rates

    def reward(self, before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        """(B,): what CarRacing pays for the step from state `before` to `after` (B, S each), read
        off the car's motion along the track's centre line (ModelConfig.prior_reward). Tiles pay
        once in the simulator; here driving forward along the line always pays, so a car that turned
        around twice would be paid again for the tiles it had crossed."""
        if not self.road:
            raise ValueError("the car prior reads the reward off the road samples, which this state lacks")
        road = before.index_select(1, self.road_index).unflatten(1, (-1, 2))
        return self._paid(road, self.slide(road, after[:, :2] - before[:, :2], before[:, 3])[1])

    def _paid(self, road: torch.Tensor, along: torch.Tensor) -> torch.Tensor:
        """(B,): the step's pay for road samples (B, K, 2) before it and the car's slide `along` (B, 1) the line."""
        on_road = road[:, self.anchor].norm(dim=-1) < TILE_REACH  # road+0 is the car's place on the line
        return REWARD_PER_UNIT * along[:, 0].clamp(min=0.0) * on_road - STEP_COST

    def constrain(self, state: torch.Tensor) -> torch.Tensor:
        """A state (B, S) after the learned correction, put back where the simulator's states can
        be: speed not below 0, wheels on grass within 0..4, progress within 0..1, and the farthest
        road sample on the line, 7 u from its neighbour and turned from the line's direction there
        by at most CarRacing's sharpest turn. A correction that broke these would have the decoder
        draw what it never saw: over a long dream a learned farthest sample that wanders off folds
        the road the other samples slide along."""
        bounded = state.index_select(1, self.bounded_index)
        state = state.index_copy(1, self.bounded_index, torch.minimum(torch.maximum(bounded, self.lower), self.upper))
        if not self.road:
            return state
        road = state.index_select(1, self.road_index).unflatten(1, (-1, 2))
        farthest = self._lay_farthest(road, chord_turns(road)[:, -1])
        return state.index_copy(1, self.road_index[-2:], farthest)

    def _lay_farthest(self, road: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
        """(B, 2): the farthest sample one chord from its neighbour, turned by `turn` (B,) rad (left
        positive, at most CarRacing's sharpest turn) from the chord before it."""
        before = road[:, -2] - road[:, -3]
        angle = torch.atan2(before[:, 1], before[:, 0]) + turn.clamp(-MAX_TRACK_TURN, MAX_TRACK_TURN)
        return road[:, -2] + self.chord * torch.stack([torch.cos(angle), torch.sin(angle)], -1)

    def _road(
        self, road: torch.Tensor, step: torch.Tensor, along: torch.Tensor, turned: torch.Tensor, noise: torch.Tensor | None
    ) -> torch.Tensor:
        """road (B, K, 2) samples as (right, ahead) before the step; step (B, 2) and along (B, 1)
        the car's displacement in its frame and its place's slide along the line (`slide`), turned
        (B,) the heading's change; noise (B, 2) or None, the track process's draws."""
        slid = self._resample(road, along)
        # Beyond the old farthest sample the resampled line runs on; the track's process turns what
        # came into view (`driven` chords of it; none when the car backs up): the farthest turn
        # eases off, and a bend may begin (TRACK_BENDS).
        driven = (along[:, 0] / self.chord).clamp(min=0.0)
        turn = chord_turns(road)[:, -1] * self.ease**driven
        if noise is not None:
            chance = 0.5 * (1 + torch.erf(noise / math.sqrt(2)))  # the draws as uniform numbers in (0, 1)
            begins = chance[:, 0] < 1 - torch.exp(-self.bends * driven)
            left = chance[:, 1] < self.left
            within = torch.where(left, chance[:, 1] / self.left, (chance[:, 1] - self.left) / (1 - self.left))
            low, high = self.kick
            kick = low + (high - low) * within
            turn = turn + torch.where(begins, torch.where(left, kick, -kick), torch.zeros_like(kick))
        slid = torch.cat([slid[:, :-1], self._lay_farthest(slid, turn)[:, None]], 1)
        relative = slid - step[:, None]  # the slid samples from where the car is now
        # Seen from a car turned by `turned` (left positive), a fixed point turns the other way.
        c, s = torch.cos(turned)[:, None], torch.sin(turned)[:, None]
        right, ahead_ = relative.unbind(-1)
        return torch.stack([right * c + ahead_ * s, -right * s + ahead_ * c], -1)

    def slide(self, road: torch.Tensor, moved: torch.Tensor, psi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The car's displacement moved (B, 2) in its frame before the step (B, 2; right is
        (cos psi, sin psi), ahead (-sin psi, cos psi)), and how far its place on the line slides
        along it (B, 1), for road (B, K, 2) samples before the step. The place is where the
        simulator's samples are anchored (`track_view.projected_index`): the car's projection onto
        the line, here the nearest point of the polyline the samples draw. The displacement's part
        along the line's direction under the car, taken before, is off wherever the car is off
        the centre line in a bend (its projection moves by R / (R - r) of its path on a bend of
        radius R, a car r inside it): with the simulator's own car motion, the road near the car
        drifted 1.7-3.5 u (median) through the sharper bends within 30 steps. The slide ends at the
        car's projection wherever the anchor was: the difference of the projections before and
        after the step, tried too, let the anchor wander off it (the samples' polyline cuts the
        simulator's finer one in a bend), 3.0 u instead of 1.0 after those 30 steps."""
        cos, sin = torch.cos(psi), torch.sin(psi)
        step = torch.stack([moved[:, 0] * cos + moved[:, 1] * sin, -moved[:, 0] * sin + moved[:, 1] * cos], -1)
        segments, length, arc = polyline(road)
        start = road[:, :-1]
        t = (((step[:, None] - start) * segments).sum(-1) / length.square()).clamp(0.0, 1.0)
        nearest = (start + t[..., None] * segments - step[:, None]).norm(dim=-1).argmin(1, keepdim=True)  # (B, 1)
        place = arc.gather(1, nearest) + t.gather(1, nearest) * length.gather(1, nearest)
        return step, place - arc[:, self.anchor : self.anchor + 1]

    def _resample(self, road: torch.Tensor, along: torch.Tensor) -> torch.Tensor:
        """The samples of road (B, K, 2) after the car's place on the line moved `along` (B, 1) track
        units along it: read at the data's spacing from the moved anchor, so they stay evenly
        spaced, as the simulator's are, off the Catmull-Rom curve through the samples (the cubic
        the camera draws the road along); beyond the ends the line continues its last segment
        straight. Read off the polyline itself, every step cut the corners of a bend a little
        more (the simulator reads its samples afresh off its finer line): with the simulator's own
        car motion the road near the car was 0.7-1.7 u off (median) after 30 steps through the
        sharper bends; off the curve, 0.2-0.9 u. Moving each sample towards its neighbour instead
        lets the spacing drift, and over a long dream the samples bunch up where the learned
        farthest one lags, folding the road."""
        _, length, arc = polyline(road)
        target = arc[:, self.anchor : self.anchor + 1] + along + self.spacing  # (B, K)
        # The segment each target lies on: the inner samples at or before it (0 .. K - 2).
        segment = (arc[:, None, 1:-1] <= target[:, :, None]).sum(-1)
        share = (target - arc.gather(1, segment)) / length.gather(1, segment)  # < 0 or > 1 beyond the ends
        # the four samples around each segment, the ends continued straight
        padded = torch.cat([2 * road[:, :1] - road[:, 1:2], road, 2 * road[:, -1:] - road[:, -2:-1]], 1)
        p0, p1, p2, p3 = (padded.gather(1, (segment + k)[:, :, None].expand(-1, -1, 2)) for k in range(4))
        t = share.clamp(0.0, 1.0)[:, :, None]
        curve = p1 + 0.5 * t * ((p2 - p0) + t * ((2 * p0 - 5 * p1 + 4 * p2 - p3) + t * (3 * (p1 - p2) + p3 - p0)))
        straight = p1 + (p2 - p1) * share[:, :, None]
        return torch.where(((share >= 0) & (share <= 1))[:, :, None], curve, straight)


def polyline(road: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The polyline road (B, K, 2) draws: its segments (B, K - 1, 2), their lengths (B, K - 1) and
    each sample's distance along it from the first (B, K)."""
    segments = road[:, 1:] - road[:, :-1]
    length = segments.norm(dim=-1).clamp(min=1e-6)
    return segments, length, torch.cat([torch.zeros_like(length[:, :1]), length.cumsum(1)], 1)


def chord_turns(road: torch.Tensor) -> torch.Tensor:
    """(B, K - 2): how far each chord of the samples road (B, K, 2) turns from the one before it,
    rad, left positive; the farthest chord's turn is last."""
    chords = road[:, 1:] - road[:, :-1]
    a, b = chords[:, :-1], chords[:, 1:]
    return torch.atan2(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], (a * b).sum(-1))
