"""highway-env state rows for tests: the fields of two neighbours, every one not named zero."""

import numpy as np

from worldsim.sources.driving import driving_state_fields

FIELDS = [f.name for f in driving_state_fields(2)]


def driving_state(**values: float) -> np.ndarray:
    row = np.zeros(len(FIELDS), np.float32)
    for name, value in values.items():
        row[FIELDS.index(name)] = value
    return row
