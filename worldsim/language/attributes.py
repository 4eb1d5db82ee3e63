"""Attributes of a scene, read off the physical state, and the phrases that name their values.

An attribute is a category ("block_region": top-left, top, ...) or a number ("ego_speed", m/s). It is
read off states by a function of the named state columns; where it is not defined for a state (no
car ahead, so no gap to it) the reading is -1 (categories) or NaN (numbers). Each category value has
its phrases; a number has phrase templates with one `{}` for the value. A prompt names the thing an
attribute is about with one of its `subjects` ("block", "T"), so "the agent in the top left" and
"the block in the top left" ask for different attributes with the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

Columns = Mapping[str, np.ndarray]  # state field name -> (N,) values


@dataclass(frozen=True)
class Attribute:
    name: str
    subjects: tuple[str, ...]  # words that say what the attribute is about; the first is its name in reports
    read: Callable[[Columns], np.ndarray]  # -> (N,) category index (-1: undefined) or number (NaN)
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category value -> its phrases
    templates: tuple[str, ...] = ()  # number: phrases with "{}" for the value
    unit: str = ""
    low: float = 0.0  # a number's range: what the domain's data covers; prompts outside are refused
    high: float = 0.0
    tolerance: float = 0.0  # a number holds within this of what was asked
    relational: bool = False  # about two things at once ("left of the block", "closer than")
    subject_phrases: tuple[str, ...] = ()  # how captions name the subject ("the T block", "the block")

    def __post_init__(self):
        if bool(self.phrases) == bool(self.templates):
            raise ValueError(f"attribute {self.name}: give category phrases or number templates, not both or neither")

    @property
    def numeric(self) -> bool:
        return bool(self.templates)

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(self.phrases)

    def holds(self, asked: str | float, read: np.ndarray) -> np.ndarray:
        """(N,) bool: does each reading have the asked value (a number: within the tolerance)?"""
        if self.numeric:
            return np.abs(read - float(asked)) <= self.tolerance  # NaN (undefined) never holds
        return read == self.values.index(str(asked))

    def describe(self) -> str:
        if self.numeric:
            return f"{self.name} ({self.low:g}-{self.high:g} {self.unit})"
        return f"{self.name} ({', '.join(self.values)})"


@dataclass(frozen=True)
class NumberCheck:
    """A number a prompt may write, and its range: `pattern` (a regular expression with one group
    for the number) outside [low, high] is refused with `what` in the message."""

    pattern: str
    low: float
    high: float
    what: str


@dataclass(frozen=True)
class AttributeTable:
    domain: str
    attributes: tuple[Attribute, ...]
    numbers: tuple[NumberCheck, ...] = ()
    # Words that, in this domain, name something its state does not hold: a prompt using them is
    # told so ("bend": CarRacing's state records no track geometry ahead).
    unsupported: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(f"the {self.domain} domain has no attribute {name!r} (it has {', '.join(self.names)})")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)

    def read(self, states: np.ndarray, fields: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
        """(N, S) or (S,) physical states with their field names -> attribute name -> (N,) readings."""
        states = np.atleast_2d(np.asarray(states, dtype=np.float64))
        if states.shape[1] != len(fields):
            raise ValueError(f"states have {states.shape[1]} columns for {len(fields)} field names")
        columns = {name: states[:, i] for i, name in enumerate(fields)}
        return {a.name: np.asarray(a.read(columns)) for a in self.attributes}

    def fields_read(self, states: np.ndarray, fields: list[str] | tuple[str, ...], seed: int = 0) -> tuple[str, ...]:
        """The fields some attribute's rule reads, found on `states` (N, S): a field is read where
        shuffling its column across the rows changes a reading (rules are plain functions; this is
        how a learnt reader is kept from leaning on fields no rule looks at). A field constant over
        `states` (highway-env's presence flags, always 1 in its data) changes nothing and is not listed."""
        states = np.atleast_2d(np.asarray(states, dtype=np.float64))
        before = self.read(states, fields)
        rng = np.random.default_rng(seed)
        used = []
        for i, name in enumerate(fields):
            shuffled = states.copy()
            shuffled[:, i] = states[rng.permutation(len(states)), i]
            after = self.read(shuffled, fields)
            if any(not np.array_equal(before[a], after[a], equal_nan=True) for a in before):
                used.append(name)
        return tuple(used)

    def value_of(self, name: str, reading: float) -> str | float | None:
        """One reading as a value: the category's name, the number, or None where undefined."""
        attribute = self[name]
        if attribute.numeric:
            return None if np.isnan(reading) else float(reading)
        return None if reading < 0 else attribute.values[int(reading)]

    def check(self, asked: Mapping[str, str | float], states: np.ndarray, fields) -> dict[str, np.ndarray]:
        """Attribute name -> (N,) bool: does each state have each asked value?"""
        readings = self.read(states, fields)
        return {name: self[name].holds(value, readings[name]) for name, value in asked.items()}


def grid_region(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    """Index into REGIONS of each (x, y) in a square of side `size`, y pointing down the frame."""
    col = np.clip((np.asarray(x) / size * 3).astype(int), 0, 2)
    row = np.clip((np.asarray(y) / size * 3).astype(int), 0, 2)
    return row * 3 + col


REGIONS = ("top-left", "top", "top-right", "left", "centre", "right", "bottom-left", "bottom", "bottom-right")


def region_phrases() -> dict[str, tuple[str, ...]]:
    """Phrases for the nine regions of a square: "in the top-left corner", "at the top", ..."""
    phrases = {}
    for region in REGIONS:
        spaced = region.replace("-", " ")
        if "-" in region:
            words = [f"in the {region} corner", f"near the {spaced} corner"]
            words += [f"at the {spaced}", f"in the {spaced}", f"{region}"]
        elif region == "centre":
            words = ["in the centre", "in the middle", "at the center", "in the center", "centred"]
        else:
            side = {"top": "upper", "bottom": "lower", "left": "left", "right": "right"}[region]
            words = [f"at the {region}", f"near the {region} edge", f"on the {side} side", f"in the {region} middle"]
        phrases[region] = tuple(words)
    return phrases
