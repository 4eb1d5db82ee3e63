"""Other bodies held in slots (`ModelConfig.matched_slots`): highway-env's car0_ .. car3_ fields.

The simulator lists the other cars nearest first, so the car a slot holds changes whenever two
distances cross: in held-out highway-env episodes the best match of one step's cars to the next
step's (each moved by its relative speed) reorders the slots in 30 % of steps, the nearest two in
24 % (scripts/cars_on_the_ego.py). Scored slot
by slot, a filter or dynamics unsure which car will be nearest predicts the average of the
candidates, and the average of cars on either side of the ego is the ego's own place: replayed,
the shipped driving dream put a car on the ego in up to a quarter of its steps
(scripts/cars_on_the_ego.py). Under matched slots a predicted state is scored against the true
one in the order of its slots that fits best (every order is tried: a few slots only), and every
state the model makes is put back in the simulator's order, nearest first, so everything that
reads the state (decoder, crash rule, env, captions) sees the convention the data has.
"""

from __future__ import annotations

import itertools
import re

import torch

SLOT_FIELD = re.compile(r"^([a-z]+)(\d+)_(\w+)$")
PARTS = ("present", "dx", "dy")  # what the order reads: presence, then the distance in (dx, dy)
MAX_SLOTS = 5  # 5! = 120 orders tried per scored state


def slot_fields(fields: list[str]) -> list[list[int]]:
    """[[field index of each part of slot k] for each slot k] of fields named `{name}{k}_{part}`,
    slots numbered 0, 1, ... with the same parts in the same order; [] if there are none."""
    slots: dict[int, list[tuple[str, int]]] = {}
    for i, name in enumerate(fields):
        match = SLOT_FIELD.match(name)
        if match:
            slots.setdefault(int(match.group(2)), []).append((match.group(3), i))
    if not slots:
        return []
    if sorted(slots) != list(range(len(slots))):
        raise ValueError(f"matched_slots: slots are numbered 0, 1, ..., got {sorted(slots)}")
    parts = [[part for part, _ in slots[k]] for k in range(len(slots))]
    if any(p != parts[0] for p in parts):
        raise ValueError("matched_slots: every slot needs the same parts in the same order")
    return [[i for _, i in slots[k]] for k in range(len(slots))]


def check_slots(fields: list[str]) -> None:
    """A clear error where `fields` hold no slots that can be matched and ordered."""
    slots = slot_fields(fields)
    if len(slots) < 2:
        raise ValueError("matched_slots needs at least two slots of fields named {name}{k}_{part} (say car0_dx, car1_dx)")
    if len(slots) > MAX_SLOTS:
        raise ValueError(f"matched_slots tries every order of the slots: at most {MAX_SLOTS}, got {len(slots)}")
    parts = [SLOT_FIELD.match(fields[i]).group(3) for i in slots[0]]
    if not set(PARTS) <= set(parts):
        raise ValueError(f"matched_slots orders slots nearest first: each needs the parts {', '.join(PARTS)}, got {parts}")


def code_slots(fields: list[str], angle_fields: list[str], sines: bool) -> torch.Tensor:
    """(K, P) each slot's columns in the state code: its fields, then (under "cos_sin") the sine
    appended for each of its angles, in the order the code appends them."""
    slots = slot_fields(fields)
    angles = [i for i, name in enumerate(fields) if name in angle_fields]
    sine_column = {field: len(fields) + j for j, field in enumerate(angles)} if sines else {}
    return torch.tensor([slot + [sine_column[i] for i in slot if i in sine_column] for slot in slots], dtype=torch.long)


def orders(columns: torch.Tensor, width: int) -> torch.Tensor:
    """(K!, width) column indices: for each order of the K slots, the code read with its slots in
    that order (the other columns where they are)."""
    rows = []
    for order in itertools.permutations(range(len(columns))):
        index = torch.arange(width)
        index[columns.flatten()] = columns[list(order)].flatten()
        rows.append(index)
    return torch.stack(rows)


def nearest_first(code: torch.Tensor, columns: torch.Tensor, parts: tuple[int, int, int], scale, shift) -> torch.Tensor:
    """A state code (..., D) with its slots reordered as the simulator lists them: present ones by
    distance, absent ones last in their order. `parts`: the positions of present, dx and dy within
    a slot; `scale`, `shift` (D,): the code's affine map to units (`WorldModel.code_units`), which
    differs from slot to slot (each field is standardised on its own)."""
    present, dx, dy = parts
    units = code * scale + shift
    slots = units[..., columns]  # (..., K, P), in units every slot shares
    squared = slots[..., dx] ** 2 + slots[..., dy] ** 2  # (not hypot: the ONNX exporter has none)
    key = torch.where(slots[..., present] > 0.5, squared, torch.full_like(squared, 1e12))
    # ties (absent slots) keep their order; a plain argsort exports to the ONNX step graph
    order = (key + 1e-3 * torch.arange(len(columns), device=key.device)).argsort(-1)
    ordered = slots.gather(-2, order[..., None].expand_as(slots))
    return (units.index_copy(-1, columns.flatten(), ordered.flatten(-2)) - shift) / scale
