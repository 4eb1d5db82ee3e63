"""Captions of recorded states in varied words, for training the text side of the shared space.

A caption says a few of a state's attributes (one to `most`, chosen at random), each in one of its
phrases, grouped by the thing they are about ("the T block upside down in the top-left corner"),
the groups in random order and joined by varied connectors. The same state so gets many captions,
and the text encoder has to learn attributes rather than one sentence pattern. Every caption is
made of the phrases `parse_prompt` reads, and comes with the attribute values it states.
"""

from __future__ import annotations

import numpy as np

from worldsim.language.attributes import AttributeTable

CONNECTORS = (", ", "; ", " and ", ", and ", " with ")
OPENINGS = ("", "", "", "a scene with ", "start from ", "show ")


def caption(
    table: AttributeTable, values: dict[str, str | float | None], rng: np.random.Generator, most: int = 4
) -> tuple[str, dict[str, str | float]]:
    """One caption of a state given by its attribute values (None where undefined): the text and the
    values it states."""
    defined = [name for name, v in values.items() if v is not None]
    if not defined:
        raise ValueError("no attribute of this state is defined; nothing to say")
    k = int(rng.integers(1, min(most, len(defined)) + 1))
    chosen = [defined[i] for i in sorted(rng.choice(len(defined), size=k, replace=False))]
    groups: dict[str, list[str]] = {}
    for name in chosen:  # grouped by subject, so one clause names the thing once
        groups.setdefault(table[name].subjects[0], []).append(name)
    clauses, stated = [], {}
    for subject in rng.permutation(list(groups)):
        names = groups[str(subject)]
        head = table[names[0]]
        words = str(rng.choice(head.subject_phrases or head.subjects))
        for name in names:
            attribute, value = table[name], values[name]
            if attribute.numeric:
                number = int(round(float(value)))
                phrase = str(rng.choice(attribute.templates)).format(number)
                stated[name] = float(number)
            else:
                phrase = str(rng.choice(attribute.phrases[str(value)]))
                stated[name] = value
            # A comma before a relation keeps "at the bottom, left of the block" from reading as
            # "at the bottom left"; elsewhere phrases follow each other as in speech.
            words += (", " if attribute.relational and not words.endswith(phrase) and len(names) > 1 else " ") + phrase
        clauses.append(words)
    text = clauses[0]
    for clause in clauses[1:]:
        text += str(rng.choice(CONNECTORS)) + clause
    return str(rng.choice(OPENINGS)) + text, stated


def captions_of_states(
    table: AttributeTable, states: np.ndarray, fields, rng: np.random.Generator, most: int = 4
) -> list[tuple[str, dict[str, str | float]]]:
    """One caption per row of (N, S) `states`."""
    readings = table.read(states, fields)
    out = []
    for i in range(len(states)):
        values = {name: table.value_of(name, readings[name][i]) for name in table.names}
        out.append(caption(table, values, rng, most))
    return out
