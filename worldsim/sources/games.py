"""Games: Gymnasium `CarRacing-v3` (Box2D), Box(3) actions = steer [-1, 1], gas [0, 1], brake [0, 1].

Frames are CarRacing's own 96x96 car-following view (with its dashboard strip), area-downsampled.
Two departures from the raw simulator, both documented in the dataset's metadata:
- `frame_skip` (default 2): each action is held for that many 50 Hz physics frames and their
  rewards are summed, so one step is 40 ms.
- On reset the car idles for CarRacing's 1 s zoom-in animation (50 frames with no input; the car
  does not move), so every episode starts from a fully zoomed view.

Physical state (float32; "u" is a Box2D world unit, CarRacing's own length unit: the track is
~13 u wide, full gas reaches ~70 u/s in 2 s):
  x, y [u], speed [u/s], heading [rad, wrapped to (-pi, pi]; 0 = nose towards +y],
  angular_velocity [rad/s, positive = turning left], wheels_off_track (0..4 wheels on grass),
  progress (fraction of track tiles visited), steering [rad, the front wheels' angle; the dashboard's
  green bar], grass_x_phase and grass_y_phase [rad, the car's place in the grid of lighter grass
  squares, period 2 * GRASS_DIM = 33.3 u], then the track's centre line around the car in the
  car's frame (`track_view`): road{k}_right, road{k}_ahead [u] for track points k = -4 .. +12 from
  the car's place on it; then what the frame shows that none of those hold (`PAINT_FIELDS`):
  tile_phase [rad, the car's place on the centre line over 6 of its points: the road tiles' three
  shades and the kerbs' two colours follow the tile's index], score [the episode's reward so far;
  the dashboard prints it rounded, 0.1 more: CarRacing draws a frame before it charges the frame's
  time; an episode's first frame still shows the zoom-in's 5.0 of time, charged before the reward
  is set to 0], wheel{0..3}_phase [rad, each wheel's spin: the grey band drawn
  on it; front left, front right, rear left, rear right], then per road tile j = -4 .. +12 from the
  car's own (`TILE_OFFSETS`; tile i covers track points (i - 1, i], the car's is the one its place
  on the centre line lies in): tile{j}_touched [1 once anything touched the tile: CarRacing then
  draws it in the plain road colour, its shade gone, and the road the car has driven over is plain]
  and tile{j}_kerb [+1: a kerb on the tile's right (of the track's direction), -1 on its left, 0
  none; CarRacing lays them on the inside of its sharp bends], then wheel{0..3}_omega [rad/s, each
  wheel's spin rate: the dashboard's four ABS bars; the rear wheels spin faster than they roll
  under gas, all four stop when the brake locks them].
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from worldsim.scenario import Scenario
from worldsim.sources import track_view
from worldsim.sources.base import Observation, Source, StateField, to_square_frame

TILE_OFFSETS = tuple(range(-4, 13))  # the tiles the view shows: ~12 u behind the car, ~42 u ahead
TOUCHED_FIELDS = tuple(f"tile{j:+d}_touched" for j in TILE_OFFSETS)
KERB_FIELDS = tuple(f"tile{j:+d}_kerb" for j in TILE_OFFSETS)
WHEEL_FIELDS = tuple(f"wheel{i}_phase" for i in range(4))
OMEGA_FIELDS = tuple(f"wheel{i}_omega" for i in range(4))

STATE_FIELDS = (
    StateField("x", "u", "car position, x"),
    StateField("y", "u", "car position, y"),
    StateField("speed", "u/s", "car speed"),
    StateField("heading", "rad", "car body angle, wrapped to (-pi, pi]"),
    StateField("angular_velocity", "rad/s", "car body yaw rate"),
    StateField("wheels_off_track", "1", "number of wheels on grass (0..4)"),
    StateField("progress", "1", "fraction of the track's tiles visited"),
    StateField("steering", "rad", "front wheels' angle (the dashboard's steering bar)"),
    StateField("grass_x_phase", "rad", "car x within the grass squares' period"),
    StateField("grass_y_phase", "rad", "car y within the grass squares' period"),
    *(
        StateField(name, "u", f"track centre line {name[4:].split('_')[0]} points along, {name.split('_')[1]} of the car")
        for name in track_view.field_names()
    ),
    StateField("tile_phase", "rad", "the car's place on the centre line over 6 track points (2 pi: 6 tiles)"),
    StateField("score", "1", "the episode's reward so far, as the dashboard shows it"),
    *(StateField(f, "rad", f"wheel {f[5]}'s spin angle (front left, front right, rear left, rear right)") for f in WHEEL_FIELDS),
    *(StateField(f, "1", f"road tile {f[4:-8]} from the car's: 1 once touched (drawn plain)") for f in TOUCHED_FIELDS),
    *(
        StateField(f, "1", f"road tile {f[4:-5]} from the car's: kerb on its right (+1), left (-1), none (0)")
        for f in KERB_FIELDS
    ),
    *(StateField(f, "rad/s", f"wheel {f[5]}'s spin rate (the dashboard's ABS bar)") for f in OMEGA_FIELDS),
)
# The fields only the painting reads (`worldsim.model.painted_ground`): the tiles' index, the score,
# the wheels' spin, which tiles are plain and which have kerbs, the wheels' spin rates. The frame
# shows them, but nothing in the car's or the road's motion depends on them.
PAINT_FIELDS = ("tile_phase", "score", *WHEEL_FIELDS, *TOUCHED_FIELDS, *KERB_FIELDS, *OMEGA_FIELDS)
TILE_CYCLE = 6  # track points: the tiles' shades repeat every 3 tiles, the kerbs' colours every 2
ZOOM_FRAMES = 50  # CarRacing zooms in over its first second at 50 FPS
WHEEL_RADIUS = 27 * 0.02  # car_dynamics' wheels, units
# The ranges CarRacing's states keep to (None: unbounded on that side).
FIELD_BOUNDS = {"speed": (0.0, None), "wheels_off_track": (0.0, 4.0), "progress": (0.0, 1.0)}


def with_derived_fields(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) states of scenes made elsewhere (a prompt's generated scene, whose generator holds the
    fields only the painting reads at 0) `within_bounds`, with what follows from the rest: the
    wheels rolling at the car's speed (the dashboard's ABS bars; at 0 a moving car showed none, and
    a frame probe read such scenes as slow), and the tiles from the car's back, driven over, touched
    where the car is on the track."""
    states = within_bounds(states, fields)
    fields = list(fields)
    if "speed" in fields and set(OMEGA_FIELDS) <= set(fields):
        rolling = states[:, fields.index("speed")] / WHEEL_RADIUS
        states[:, [fields.index(f) for f in OMEGA_FIELDS]] = rolling[:, None]
    if "wheels_off_track" in fields and set(TOUCHED_FIELDS) <= set(fields):
        on_track = states[:, fields.index("wheels_off_track")] < 0.5
        behind = [fields.index(f) for j, f in zip(TILE_OFFSETS, TOUCHED_FIELDS, strict=True) if j <= 0]
        states[np.ix_(on_track, behind)] = 1.0
    return states


def within_bounds(states: np.ndarray, fields: list[str] | tuple[str, ...]) -> np.ndarray:
    """(N, S) states with the bounded fields put back in CarRacing's ranges. A state made elsewhere
    (a prompt's generated scene) may hold what the simulator never does: the generator shipped met
    "the car standing still" with speeds of -7 to -10, a masked one with 10 wheels on the grass."""
    states = np.array(states, dtype=np.float32, copy=True)
    for name, (low, high) in FIELD_BOUNDS.items():
        if name in fields:
            i = list(fields).index(name)
            states[:, i] = np.clip(states[:, i], low, high)
    return states


# CarRacing's camera's geometry (`worldsim.model.ego_view`): it draws a 1000 x 800 px window at 2.7 * 6 = 16.2 px
# per unit, so a frame spans 61.7 u across and 49.4 u up (a normalised coordinate: 30.9 u and
# 24.7 u), with the car a quarter of the window's height above its bottom edge (y = +0.5 in
# normalised coordinates, y down) and its nose up. Checked on the simulator's frames
# (tests/test_ego_view.py): the lighter grass squares it places match the frames' own on 99 % of grass pixels.
VIEW = {
    "scale": [1000 / 16.2 / 2, 800 / 16.2 / 2],
    "origin": [0.0, 0.5],
    "heading": "heading",
    "ground": {"phases": ["grass_x_phase", "grass_y_phase"], "period": track_view.GRASS_PERIOD, "harmonics": 3},
    "path": [list(pair) for pair in zip(track_view.field_names()[::2], track_view.field_names()[1::2], strict=True)],
}


# CarRacing's own drawing of the ground (gymnasium's car_racing.py): a field of (102, 204, 102), lighter
# squares of (102, 230, 102), road tiles of (102, 102, 102) plus 0, 2 or 5 grey levels, TRACK_WIDTH =
# 40 / 6 u either side of the centre line; its frames show them 2 levels darker (pygame's smoothscale
# shrinking the window truncates), and the tiles mostly as 100, 102 and 105. Painted over the
# decoder's frames (`worldsim.model.painted_ground`) with the car (`CAR`) everywhere but the
# dashboard, the window's bottom 5/40. CAR_BOX: where the car's hull and wheels lie (within 1.6 u
# of its axis, from 2.4 u behind to 2.6 u ahead of its centre).
TRACK_HALF_WIDTH = 40 / 6
CAR_BOX = (1.6, 2.4, 2.6)  # u: half-width, behind, ahead
# The car as car_dynamics draws it (its points times SIZE = 0.02, x to the right, y ahead): the hull's
# four convex polygons in (204, 0, 0), over four wheels 2 x 14 by 2 x 27 points, black with a grey
# (77) band that turns with the wheel's spin (its drum's face from the spin angle to 1.2 rad past
# it), the front two turned by the steering joint (at most 0.42 rad). Painted 2 levels darker, as
# the frames show them. Without the wheels' spin in the state, the band's mean share over the spin
# (0.19 of its grey) is painted over the whole wheel instead.
_SIZE = 0.02
_HULL = (
    [(-60, +130), (+60, +130), (+60, +110), (-60, +110)],
    [(-15, +120), (+15, +120), (+20, +20), (-20, 20)],
    [(+25, +20), (+50, -10), (+50, -40), (+20, -90), (-20, -90), (-50, -40), (-50, -10), (-25, +20)],
    [(-50, -120), (+50, -120), (+50, -90), (-50, -90)],
)
CAR = {
    "hull": [[[x * _SIZE, y * _SIZE] for x, y in polygon] for polygon in _HULL],
    "hull_colour": [202, 0, 0],
    "wheels": [[x * _SIZE, y * _SIZE] for x, y in ((-55, +80), (+55, +80), (-55, -82), (+55, -82))],
    "wheel_half_size": [14 * _SIZE, 27 * _SIZE],
    "wheel_colour": [13, 13, 13],
    "steered": [0, 1],
    "steering": "steering",
    "max_steer": 0.42,
}
SPINNING_CAR = {
    **CAR,
    "wheel_colour": [0, 0, 0],
    "band": {"colour": [75, 75, 75], "phases": list(WHEEL_FIELDS), "arc": 1.2},
    "raster": {"window": [1000, 800], "render": [96, 96]},  # filled as pygame fills it, shrunk as the window is
}
PAINT = {
    "ground": [100, 202, 100],
    "squares": [100, 228, 100],
    "road": [100, 100, 100],
    "road_half_width": TRACK_HALF_WIDTH,
    "keep": [[-1.0, 1 - 2 * 5 / 40, 1.0, 1.0]],  # the dashboard, drawn by the decoder
    "car": CAR,
    # the frames show the picture 0.2 of a pixel up and left of the window's geometry (pygame's
    # shrinking): fitted to the ground and the car (`scripts/painted_ground_match.py`: mean error
    # over painted pixels 1.43 grey levels, 1.82 unshifted)
    "shift": [-0.2, -0.2],
    # the view's samples lie every second track point: on a bend their chords cut inside the
    # track, its road and kerbs with them; a point between each two on the cubic through them
    # (`painted_ground.with_midpoints`) brings the painting's mean error over painted pixels from
    # 0.88 to 0.77 grey levels, its kerbs' overlap with the frames' from 0.61 to 0.71
    "midpoints": True,
}
# With the state's PAINT_FIELDS: the tiles' shades (102, 104 and 107 by the tile's index along the
# track, shown as 100, 102 and 105; the plain road's where the tile was touched), CarRacing's kerbs
# (BORDER = 8 / 6 u wide on the road's edge, white on even tiles, red on odd, where the state's kerb
# fields lay them), the printed score (CarRacing's `f"{reward:04.0f}"` in pygame's default font at
# 42 points, white, centred at (60, 750) of its 1000 x 800 window, shrunk to 96 x 96; the range
# covers an episode's: 500 steps cost at most 100, a lap pays 1000; the dashboard is black left of
# its speed bar) and the wheels' bands.
KERBS = {"fields": list(KERB_FIELDS), "width": 8 / 6, "colours": [[253, 253, 253], [253, 0, 0]]}
# CarRacing's dashboard (`_render_indicators`): the window's bottom 5/40 black; bars one 25 px
# column wide growing up from 20 px above the bottom (the speed at 0.02 of 20 px per u/s, white; the
# front wheels' spin rates at 0.01 of 20 px per rad/s, blue; the rear ones', violet), and from the
# 500 and 750 px marks between 40 and 80 px above the bottom sideways (the front wheels' angle at
# -10 columns of 25 px per rad, green; the yaw rate at -0.8 columns per rad/s, red). Its colours 2
# levels darker, as the frames show them, come from the shrinking the tables go through.
_S, _H = 1000 / 40, 800 / 40


def _up(field, column, per_unit, colour):
    base = [column * _S, 800 - _H, (column + 1) * _S, 800 - _H]
    return {"field": field, "colour": colour, "base": base, "grows": "up", "per_unit": per_unit * _H, "reach": 80}


def _right(field, column, per_unit, colour, reach):
    base = [column * _S, 800 - 4 * _H, column * _S, 800 - 2 * _H]
    return {"field": field, "colour": colour, "base": base, "grows": "right", "per_unit": per_unit * _S, "reach": reach}


DASHBOARD = {
    "window": [1000, 800],
    "render": [96, 96],
    "box": [0, 700, 1000, 800],
    "colour": [0, 0, 0],
    "bars": [
        _up("speed", 5, 0.02, [255, 255, 255]),
        *(_up(f, 7 + i, 0.01, [0, 0, 255] if i < 2 else [51, 0, 255]) for i, f in enumerate(OMEGA_FIELDS)),
        _right("steering", 20, -10.0, [0, 255, 0], 120),
        _right("angular_velocity", 30, -0.8, [255, 0, 0], 250),
    ],
}
PAINT_WITH_FIELDS = {
    **{k: v for k, v in PAINT.items() if k != "keep"},  # the dashboard is painted too
    "dashboard": DASHBOARD,
    "car": SPINNING_CAR,
    "tiles": {
        "phase": "tile_phase",
        "anchor": track_view.OFFSETS.index(0),
        "cycle": TILE_CYCLE,
        "length": track_view.POINT_SPACING,
        "shades": [0, 2, 5],
        "first": TILE_OFFSETS[0],
        "touched": list(TOUCHED_FIELDS),
        "kerbs": KERBS,
    },
    "score": {
        "field": "score",
        "font_size": 42,
        "colour": [255, 255, 255],
        "centre": [60, 750],
        "window": [1000, 800],
        "render": [96, 96],
        "range": [-120, 1100],
        "clear": [0, 700, 125, 800],  # the dashboard's left end, before the speed bar
        "offset": 0.1,  # a frame is drawn before the frame's time is charged
    },
}


def camera(paint: bool = True, fields: bool = True) -> dict:
    """CarRacing's camera for a decoder reading the state (`ModelConfig.decoder_view`): the ground's
    checker and the track's centre line for the decoder's cells and, with `paint`, the field,
    squares, road, car, tiles' shades, kerbs and score painted over its frames (`PAINT_WITH_FIELDS`, for
    a state with the `PAINT_FIELDS`; `fields=False`: `PAINT`, for one without them);
    `paint=False` is the camera the games models were trained with."""
    if not paint:
        return dict(VIEW)
    return {**VIEW, "paint": PAINT_WITH_FIELDS if fields else PAINT}


CAMERA = camera()


def kerb_sides(track) -> np.ndarray:
    """(N,) per tile of CarRacing's `track` (its (alpha, beta, x, y) points; tile i lies between
    points i - 1 and i): +1 where the simulator lays a kerb on the tile's right of the track's
    direction, -1 on its left, 0 none. CarRacing's own rule (car_racing.py, `_create_track`): a
    tile whose point and the 3 before it each turn by more than TRACK_TURN_RATE * 0.2 rad, all the
    same way, and the 3 tiles before each such tile; the kerb on the side the track turns towards."""
    from gymnasium.envs.box2d.car_racing import BORDER_MIN_COUNT, TRACK_TURN_RATE

    beta = np.array([b for _, b, _, _ in track])
    n = len(beta)
    turn = beta - np.roll(beta, 1)  # point i's turn from point i - 1, as CarRacing takes it (no unwrapping)
    border = np.zeros(n, bool)
    for i in range(n):
        run = turn[(i - np.arange(BORDER_MIN_COUNT)) % n]
        border[i] = bool(np.all(np.abs(run) > TRACK_TURN_RATE * 0.2) and abs(np.sign(run).sum()) == BORDER_MIN_COUNT)
    kerbed = border.copy()
    for i in range(n):  # in place and in order, as CarRacing does: near the track's start it carries on
        for back in range(BORDER_MIN_COUNT):
            kerbed[(i - back) % n] |= kerbed[i]
    # CarRacing puts the kerb at sign(beta[i - 1] - beta[i]) * (cos beta, sin beta) from point i;
    # the track runs along (-sin beta, cos beta), so (cos beta, sin beta) is its right
    side = np.sign(np.roll(beta, 1) - beta)
    return np.where(kerbed, side, 0.0).astype(np.float32)


class GamesSource(Source):
    domain = "games"
    state_fields = STATE_FIELDS

    def __init__(self, frame_size: int = 64, scenario: Scenario | None = None, frame_skip: int = 2):
        super().__init__(frame_size)
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        self.scenario = scenario
        self.frame_skip = frame_skip
        self.env = gym.make("CarRacing-v3", render_mode="rgb_array", continuous=True)

    def describe(self):
        return {**super().describe(), "frame_skip": self.frame_skip}

    def _reset(self, seed):
        if self.scenario is not None:
            # The track is the scenario: always the same one, whatever the episode seed.
            seed = self.scenario.spec["track_seed"]
        pixels, _ = self.env.reset(seed=seed)
        self.centre_line = np.array([(x, y) for _, _, x, y in self.core.track])  # (N, 2), the track's points
        self.kerbs = kerb_sides(self.core.track)
        idle = np.zeros(3, dtype=np.float32)
        for _ in range(ZOOM_FRAMES):
            pixels, *_ = self.core.step(idle)
        self.core.reward = self.core.prev_reward = 0.0  # the idle frames' time penalty is not the policy's
        return self._observe(pixels, 0.0, False, False, {})

    def _step(self, action):
        total = 0.0
        for _ in range(self.frame_skip):
            pixels, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        extra = {"lap_finished": bool(info.get("lap_finished", False))} if "lap_finished" in info else {}
        return self._observe(pixels, total, bool(terminated), bool(truncated), extra)

    def _observe(self, pixels, reward, terminated, truncated, info) -> Observation:
        car = self.core.car
        hull = car.hull
        speed = float(np.hypot(*hull.linearVelocity))
        heading = float(np.angle(np.exp(1j * hull.angle)))
        off = sum(1 for wheel in car.wheels if not wheel.tiles)
        progress = self.core.tile_visited_count / max(len(self.core.track), 1)
        road = track_view.centre_line_view(self.centre_line, np.array(hull.position), hull.angle)
        steering = float(car.wheels[0].joint.angle)
        grass = np.angle(np.exp(2j * np.pi * np.asarray(hull.position) / track_view.GRASS_PERIOD))
        index = track_view.projected_index(self.centre_line, np.array(hull.position))
        tile = np.angle(np.exp(2j * np.pi * index / TILE_CYCLE))
        wheels = [float(np.angle(np.exp(1j * wheel.phase))) for wheel in car.wheels]
        tiles = (int(np.ceil(index)) + np.array(TILE_OFFSETS)) % len(self.centre_line)
        state = np.concatenate(
            [
                [hull.position[0], hull.position[1], speed, heading, hull.angularVelocity, off, progress, steering],
                grass,
                road,
                [tile, self.core.reward, *wheels],
                [self._touched(i) for i in tiles],
                self.kerbs[tiles],
                [wheel.omega for wheel in car.wheels],
            ]
        ).astype(np.float32)
        frame = to_square_frame(pixels, self.frame_size)
        return Observation(frame, state, self.caption(state), reward, terminated, truncated, info)

    def _touched(self, i: int) -> float:
        """1.0 once tile i was touched: a wheel visited it, or a contact reset its colour to the
        plain road's (CarRacing's contact listener does that for any body; tile i's own colour
        is the road's plus 0.01 * (i % 3) * 255, so a tile with i % 3 == 0 shows no change)."""
        tile = self.core.road[i]
        shade = self.core.road_color + 0.01 * (i % 3) * 255
        return float(tile.road_visited or not np.allclose(tile.color, shade))

    @staticmethod
    def caption(state: np.ndarray) -> str:
        _, _, speed, heading, yaw_rate, off, progress = (float(v) for v in state[:7])
        turning = "turning left" if yaw_rate > 0.3 else "turning right" if yaw_rate < -0.3 else "going straight"
        where = "on the track" if off == 0 else "fully off the track" if off == 4 else f"with {off:.0f} wheels on the grass"
        pace = "nearly stopped" if speed < 5 else "slow" if speed < 30 else "fast" if speed < 60 else "very fast"
        return (
            f"car {pace} ({speed:.0f} u/s) heading {np.degrees(heading):.0f} deg, {turning}, {where}; "
            f"{100 * progress:.0f}% of the track visited"
        )
