"""scripts/games_realism_tells.py: the parts it lays in are the ones the painted ground leaves to the
decoder, and flattening the road's shades touches nothing but the road."""

import numpy as np
from script_modules import load_script

from worldsim.model.painted_ground import PaintedGround
from worldsim.sources.games import CAMERA, STATE_FIELDS


def test_the_dashboard_is_what_the_paint_keeps_and_the_car_box_holds_the_painted_car():
    tells = load_script("scripts/games_realism_tells.py")
    masks = tells.masks(64)
    paint = PaintedGround(CAMERA, [f.name for f in STATE_FIELDS], 64)
    assert np.array_equal(masks["dashboard"], paint.painted[0, 0].numpy() == 0)
    assert not (masks["car"] & masks["dashboard"]).any()
    (r0, r1), (c0, c1) = paint.car.rows, paint.car.cols
    car = np.zeros((64, 64))
    car[r0:r1, c0:c1] = (paint.car.hull + paint.car.wheels.amax(0)).numpy()
    assert masks["car"][car > 0].all()  # every pixel the car can cover lies in the box
    assert masks["digits"][56:, :8].all() and masks["digits"].sum() == 64


def test_only_the_road_shades_are_flattened():
    tells = load_script("scripts/games_realism_tells.py")
    colours = [(100, 202, 100), (100, 228, 100), (100, 100, 100), (102, 102, 102), (105, 105, 105), (204, 0, 0), (0, 0, 0)]
    frames = np.array(colours, dtype=np.uint8)[None, None]
    flat = tells.flat_road(frames)[0, 0]
    assert [tuple(c) for c in flat] == [colours[0], colours[1], (100, 100, 100), (100, 100, 100), (100, 100, 100), *colours[5:]]
    laid = tells.laid_in(
        np.zeros((1, 2, 2, 3), np.uint8), np.ones((1, 2, 2, 3), np.uint8), np.array([[True, False], [False, False]])
    )
    assert laid[0, 0, 0].tolist() == [1, 1, 1] and laid[0, 1].sum() == 0
