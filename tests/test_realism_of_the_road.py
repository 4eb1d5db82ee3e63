"""scripts/realism_of_the_road.py: the real road laid into drawn frames takes only the pixels grey in both."""

import numpy as np
from script_modules import load_script


def test_the_real_road_replaces_only_pixels_grey_in_both_frames():
    real = np.full((1, 2, 3, 3), 100, np.uint8)
    real[0, 0, 0] = (100, 200, 255)  # a car in the real frame
    drawn = np.full((1, 2, 3, 3), 90, np.uint8)
    drawn[0, 1, 2] = (50, 200, 0)  # the ego in the drawn one
    laid = load_script("scripts/realism_of_the_road.py").with_real_road(real, drawn)
    assert (laid[0, 0, 0] == 90).all() and (laid[0, 1, 2] == (50, 200, 0)).all()  # either side's colour kept
    assert (laid[0, 0, 1:] == 100).all() and (laid[0, 1, :2] == 100).all()  # road taken from the real frame
    assert (drawn == 90).sum() == 15  # the drawn frames are not changed in place
