"""What a painted camera shows, fitted to the frame a dream starts from.

A camera that paints the frame from the state (`painted_ground`) draws each field it reads
exactly, so where the filter reads one a little wrong, or cannot read it at all, the frame can say
how: paint candidate states and keep the one whose painting matches the frame. CarRacing's filter
reads the road's centre line by regression, a unit or two off (the farthest sample, 42 u ahead,
1.9 u on average over the first frames of 16 held-out episodes, mostly bent to the right), and the
car prior continues the farthest chords' bend (a bend goes on), so a misread bend at the start is
one the whole dream follows; its heading is 0.15 rad off (modulo a quarter turn), which turns the
grass squares; and the fields only the painting reads (the printed score, the tiles' shades, which
tiles were driven over and which carry kerbs, the wheels' spin rates) no frame tells the filter at
all: it steps them from 0 (BENCHMARKS.md, "Games: the start fitted to its frame"; the errors:
`scripts/frame_fit_gain.py`).

The parts, each fitted with the others held, in this order:
  ground:  the body's heading and the ground's two phases (the squares' orientation and place),
           by a cross-entropy search (below)
  path:    the centre line's samples, by a cross-entropy search over the path's shape: the anchor
           sample's place, the direction of the chord ahead of it and the turn at each sample ahead,
           each chord keeping the length the filter read. The track behind the anchor is mostly
           under the car and the dashboard, so the turns there follow the first one ahead (the
           track is smooth). The first round also tries the path with no turn at all.
  tiles:   the tiles' phase along the path (a grid of `phases` values), then each tile's touched
           flag (0 or 1) and kerb side (-1, 0 or 1), one tile at a time; a value is changed only
           where another paints nearer the frame (a tile out of view keeps its own)
  score:   the printed score, read off its digits (`PaintedScore.read`)
  bars:    the dashboard bars of the spec's `bars` fields (CarRacing's wheels' spin rates, which
           the filter steps from 0), one at a time: each whole window pixel of the bar's length
           within its reach, then tenths of a pixel around the best, kept where it paints nearer
           the frame's strip than the value held
A cross-entropy search draws `population` candidates around the current mean (the first is the
mean itself), paints them, and moves the mean and spread to the `elite` best; the best candidate
painted in any round is kept. Candidates are scored by the mean absolute difference of their
painting from the frame over the pixels the camera paints. The draws come from a generator seeded
per call, the same for every start: encoding stays deterministic, and a start's fit does not
hang on the others in its batch (but for a float's rounding where two candidates tie).

The "frame_fit" spec (ModelConfig.frame_fit; {} for none):
  anchor:      the path point at the body's place on the line (CarRacing's road+0: 2)
  parts:       which of ground, path, tiles, score, bars (default all the painting has; bars
               where `bars` names fields)
  iterations:  rounds of each search (default 8)
  population:  candidates per round and start (default 48)
  elite:       candidates the next round's mean and spread are taken from (default 8)
  spread:      the first round's spread of the path's anchor place (units), its direction and each
               turn (rad), the heading (rad) and each ground phase (rad) (default [1.0, 0.05, 0.05,
               0.05, 0.3])
  phases:      values of the tiles' phase tried (default 24)
  bars:        state fields whose dashboard bars are read (default none)
"""

from __future__ import annotations

import torch

from worldsim.model.painted_ground import PaintedGround

PARTS = ("ground", "path", "tiles", "score", "bars")
# Raised when a fit of the same spec would come out otherwise (stored fits are then refitted): the
# fit starts from the filter's read of the context, whose carried fields the physics prior steps
# from frame to frame, so a change to the prior changes the fit too (3: the car prior's slide).
FIT_VERSION = 3
KEYS = {"anchor", "parts", "iterations", "population", "elite", "spread", "phases", "bars"}
DEFAULTS = {"iterations": 8, "population": 48, "elite": 8, "spread": [1.0, 0.05, 0.05, 0.05, 0.3], "phases": 24}
CHUNK = 1024  # candidates painted at once: the painting holds a few (S/2 + 1)^2 x points tables each
SPREAD_FLOOR = 1e-3  # an elite that agrees still searches a little
TOUCHED, KERB = (0.0, 1.0), (-1.0, 0.0, 1.0)  # the values a tile's flags take


def check_frame_fit(spec, view: dict | None) -> None:
    """A clear error for a malformed "frame_fit" spec, or one asking for a part the view does not paint."""
    if not isinstance(spec, dict) or set(spec) - KEYS or "anchor" not in spec:
        raise ValueError(f"frame_fit is a dict of anchor[, {', '.join(sorted(KEYS - {'anchor'}))}], got {spec!r}")
    if not view or "paint" not in view or "path" not in view:
        raise ValueError("frame_fit fits what a camera paints: it needs a decoder_view with a path and paint")
    points = len(view["path"])
    if points < 3:
        raise ValueError(f"frame_fit needs a path of at least 3 points, the view has {points}")
    anchor = spec["anchor"]
    if not (isinstance(anchor, int) and 0 <= anchor < points - 1):
        raise ValueError(f"frame_fit anchor must index one of the path's first {points - 1} points, got {anchor!r}")
    parts = spec.get("parts", list(PARTS))
    if not (isinstance(parts, (list, tuple)) and parts and set(parts) <= set(PARTS)):
        raise ValueError(f"frame_fit parts is a non-empty list of {', '.join(PARTS)}, got {parts!r}")
    for part, needs in (("tiles", "tiles"), ("score", "score"), ("bars", "dashboard")):
        if part in parts and "parts" in spec and needs not in view["paint"]:
            raise ValueError(f"frame_fit part {part!r}: the camera paints no {needs}")
    bars = spec.get("bars", [])
    drawn = [bar["field"] for bar in view["paint"].get("dashboard", {}).get("bars", [])]
    if not (isinstance(bars, (list, tuple)) and all(isinstance(f, str) for f in bars)) or set(bars) - set(drawn):
        raise ValueError(
            f"frame_fit bars is a list of the fields the dashboard's bars show ({', '.join(drawn) or 'none'}), got {bars!r}"
        )
    for key in ("iterations", "population", "elite", "phases"):
        value = spec.get(key, DEFAULTS[key])
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"frame_fit {key} must be a whole number >= 1, got {value!r}")
    if spec.get("elite", DEFAULTS["elite"]) > spec.get("population", DEFAULTS["population"]):
        raise ValueError("frame_fit elite cannot exceed the population")
    spread = spec.get("spread", DEFAULTS["spread"])
    numbers = isinstance(spread, (list, tuple)) and all(isinstance(v, (int, float)) and v >= 0 for v in spread)
    if not (numbers and len(spread) == 5):
        raise ValueError(f"frame_fit spread is [units, rad, rad, rad, rad], five numbers >= 0, got {spread!r}")


class FrameFit:
    """Fits what a camera paints of physical states to frames (`__call__`); see the module's doc."""

    def __init__(self, spec: dict, painted: PaintedGround, state_fields: list[str]):
        self.painted = painted
        self.anchor = int(spec["anchor"])
        self.iterations = int(spec.get("iterations", DEFAULTS["iterations"]))
        self.population = int(spec.get("population", DEFAULTS["population"]))
        self.elite = int(spec.get("elite", DEFAULTS["elite"]))
        self.spread = [float(v) for v in spec.get("spread", DEFAULTS["spread"])]
        self.phases = int(spec.get("phases", DEFAULTS["phases"]))
        self.columns = [c for pair in painted.path for c in pair]  # the path's (right, ahead) per point, flat
        self.ground = [painted.heading, *painted.phases]
        available = {
            "ground": True,
            "path": True,
            "tiles": painted.tiles is not None,
            "score": painted.score is not None,
            "bars": painted.dashboard is not None and bool(spec.get("bars")),
        }
        self.parts = [p for p in spec.get("parts", PARTS) if available[p]]
        # per bar read: its state column, window pixels per unit, reach (pixels either way)
        dashboard = painted.dashboard
        self.bars = []
        for name in spec.get("bars", []) if "bars" in self.parts else []:
            i = dashboard.fields.index(state_fields.index(name))
            self.bars.append((dashboard.fields[i], dashboard.per_unit[i], dashboard.reach[i]))

    @property
    def fields(self) -> list[int]:
        """The state's columns a fit may change."""
        out = []
        if "ground" in self.parts:
            out += self.ground
        if "path" in self.parts:
            out += self.columns
        if "tiles" in self.parts:
            out += [self.painted.tile_phase, *self.painted.touched, *self._kerbs()]
        if "score" in self.parts:
            out.append(self.painted.score.field)
        return out + [field for field, _, _ in self.bars]

    @torch.no_grad()
    def __call__(self, state: torch.Tensor, frames: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """state (B, F) physical states read off frames (B, 3, S, S) in [0, 1] -> the states with
        what the camera paints fitted to each frame."""
        generator = torch.Generator(device=state.device).manual_seed(seed)
        if "ground" in self.parts:
            state = self._fit_ground(state, frames, generator)
        if "path" in self.parts:
            state = self._fit_path(state, frames, generator)
        if "tiles" in self.parts:
            state = self._fit_tiles(state, frames)
        if "score" in self.parts:
            state = state.index_copy(1, self._index([self.painted.score.field]), self.painted.score.read(frames)[:, None])
        for field, per_unit, reach in self.bars:
            whole = torch.arange(-reach, reach + 1, device=state.device, dtype=state.dtype) / per_unit
            state = self._choose(state, frames, field, whole, strip=True)
            tenths = torch.arange(-10, 11, device=state.device, dtype=state.dtype) / 10 / per_unit
            state = self._choose(state, frames, field, state[:, field : field + 1] + tenths, strip=True)
        return state

    # ---- the parts ------------------------------------------------------------------------------
    def _fit_ground(self, state: torch.Tensor, frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        index = self._index(self.ground)
        _, _, _, heading, phase = self.spread

        def put(values: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
            return base.index_copy(1, index, torch.atan2(values.sin(), values.cos()))

        best = self._search(state, frames, state[:, self.ground], [heading, phase, phase], put, generator)
        return put(best, state)

    def _fit_path(self, state: torch.Tensor, frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        index = self._index(self.columns)
        points = state[:, self.columns].unflatten(1, (-1, 2))
        lengths = (points[:, 1:] - points[:, :-1]).norm(dim=-1)  # (B, K - 1): kept as read
        mean = self.shape(points)
        place, direction, turn = self.spread[:3]
        spread = [place, place, direction] + [turn] * (mean.shape[1] - 3)
        straight = mean.clone()
        straight[:, 3:] = 0.0

        def put(shapes: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
            each = lengths.repeat_interleave(len(base) // len(lengths), 0)
            return base.index_copy(1, index, self.points(shapes, each).flatten(1))

        return put(self._search(state, frames, mean, spread, put, generator, also=straight), state)

    def _fit_tiles(self, state: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        painted = self.painted
        phases = torch.arange(self.phases, device=state.device) * (2 * torch.pi / self.phases) - torch.pi
        state = self._choose(state, frames, painted.tile_phase, phases)
        for field in painted.touched:
            state = self._choose(state, frames, field, state.new_tensor(TOUCHED))
        for field in self._kerbs():
            state = self._choose(state, frames, field, state.new_tensor(KERB))
        return state

    def _kerbs(self) -> list[int]:
        return list(self.painted.kerb_fields) if self.painted.kerbs is not None else []

    # ---- searches -------------------------------------------------------------------------------
    def _search(self, state, frames, mean, spread, put, generator, also=None) -> torch.Tensor:
        """(B, D): the cross-entropy search's best of vectors whose `put(vectors (B * P, D), states
        (B * P, F))` are painted, from `mean` (B, D) with a first spread `spread` (D numbers);
        `also` (B, D), if given, is tried in the first round."""
        B, P, E = len(state), self.population, self.elite
        spread = mean.new_tensor(spread).expand(B, -1).clone()
        best, best_score = mean.clone(), torch.full((B,), float("inf"), device=state.device)
        repeated = state.repeat_interleave(P, 0)
        for round_ in range(self.iterations):
            # one set of draws for every start: its fit does not hang on the others in the batch
            draws = torch.randn((P, mean.shape[1]), generator=generator, device=state.device)
            candidates = mean[:, None] + spread[:, None] * draws[None]
            candidates[:, 0] = mean
            if also is not None and round_ == 0 and P > 1:
                candidates[:, 1] = also
            scores = self._scores(put(candidates.flatten(0, 1), repeated), frames).view(B, P)
            order = scores.argsort(-1)[:, :E]
            top = candidates.gather(1, order[..., None].expand(-1, -1, candidates.shape[-1]))
            top_score = scores.gather(1, order[:, :1])[:, 0]
            better = top_score < best_score
            best = torch.where(better[:, None], top[:, 0], best)
            best_score = torch.where(better, top_score, best_score)
            mean = top.mean(1)
            if E > 1:
                spread = top.std(1) + SPREAD_FLOOR
        return best

    def _choose(
        self, state: torch.Tensor, frames: torch.Tensor, field: int, values: torch.Tensor, strip: bool = False
    ) -> torch.Tensor:
        """`state` with `field` set, per start, to whichever of `values` paints nearest its frame,
        where one paints nearer than the value it holds: a tile the frame does not show (under the
        car, or beyond the view) keeps what the filter and the prior made of it. (Set to the first
        value instead, the tiles under a starting car were read as never driven over, and shown so
        behind it ten steps on: the long-horizon realism test told those frames from CarRacing's
        in 0.97 of cases at h = 10, 0.66 without a fit, 0.57 with this rule.) `values`: (V,), or
        (B, V) per start; `strip`: the dashboard's strip alone is painted and compared."""
        B, V = len(state), values.shape[-1] + 1
        candidates = state.repeat_interleave(V, 0)
        held = candidates[::V, field].clone()
        candidates[:, field] = torch.cat([held[:, None], values.expand(B, -1)], 1).flatten()
        scores = self._scores(candidates, frames, per=V, strip=strip).view(B, V)
        chosen = candidates[:, field].view(B, V).gather(1, scores.argmin(1, keepdim=True))  # the held value on a tie
        return state.index_copy(1, self._index([field]), chosen)

    def _scores(self, states: torch.Tensor, frames: torch.Tensor, per: int | None = None, strip: bool = False) -> torch.Tensor:
        """(N,) each state's painting against its frame: frames (B, 3, S, S) hold N / B states each;
        `strip`: the dashboard's strip alone."""
        per = len(states) // len(frames) if per is None else per
        mask, row = self.painted.painted, self.painted.dashboard.row if strip else 0
        scores = []
        for lo in range(0, len(states), CHUNK):
            chunk = states[lo : lo + CHUNK]
            targets = frames[torch.arange(lo, lo + len(chunk), device=frames.device) // per]
            if strip:
                drawn = self.painted.dashboard(torch.zeros_like(targets), chunk)
            else:
                drawn = self.painted(torch.zeros_like(targets), chunk)
            scores.append(((drawn - targets).abs() * mask)[:, :, row:].mean((1, 2, 3)))
        return torch.cat(scores)

    def _index(self, columns: list[int]) -> torch.Tensor:
        return torch.tensor(columns, dtype=torch.long, device=self.painted.painted.device)

    # ---- the path's shape -----------------------------------------------------------------------
    def shape(self, points: torch.Tensor) -> torch.Tensor:
        """(B, K, 2) path points -> (B, 3 + K - 2 - anchor): the anchor's place, the direction of
        the chord ahead of it, the turn at each point ahead of the anchor (left positive)."""
        chords = points[:, 1:] - points[:, :-1]
        a = self.anchor
        direction = torch.atan2(chords[:, a, 1], chords[:, a, 0])
        turns = _turns(chords)[:, a:]  # the turn from chord k to k + 1, for k >= anchor
        return torch.cat([points[:, a], direction[:, None], turns], -1)

    def points(self, shape: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(N, 3 + K - 2 - anchor) shapes, (N, K - 1) chord lengths -> (N, K, 2) path points; the
        turns behind the anchor are the first one ahead of it."""
        a = self.anchor
        place, direction, turns = shape[:, :2], shape[:, 2], shape[:, 3:]
        ahead = direction[:, None] + torch.cat([torch.zeros_like(direction[:, None]), turns.cumsum(-1)], -1)
        behind = direction[:, None] - turns[:, :1] * torch.arange(a, 0, -1, device=shape.device, dtype=shape.dtype)
        angles = torch.cat([behind, ahead], -1)  # (N, K - 1): each chord's direction
        steps = lengths[..., None] * torch.stack([angles.cos(), angles.sin()], -1)
        before = place[:, None] - steps[:, :a].flip(1).cumsum(1).flip(1)
        after = place[:, None] + steps[:, a:].cumsum(1)
        return torch.cat([before, place[:, None], after], 1)


def _turns(chords: torch.Tensor) -> torch.Tensor:
    """(N, K - 1, 2) chords -> (N, K - 2) the turn from each to the next, rad, left positive."""
    u, v = chords[:, :-1], chords[:, 1:]
    return torch.atan2(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0], (u * v).sum(-1))
