"""scripts/games_realism_tells.py: the parts it lays in are the ones the painted ground leaves to the
decoder, and the kerbs it finds are red or white pixels, not the car's red, the road or the grass."""

import numpy as np
from script_modules import load_script

from worldsim.model.painted_ground import PaintedGround
from worldsim.sources.games import CAMERA, STATE_FIELDS, camera


def test_the_dashboard_is_what_the_paint_keeps_and_the_car_box_holds_the_painted_car():
    tells = load_script("scripts/games_realism_tells.py")
    masks = tells.masks(64)
    names = [f.name for f in STATE_FIELDS]
    paint = PaintedGround(CAMERA, names, 64)
    dashboard = np.zeros((64, 64), bool)
    dashboard[paint.dashboard.row :] = True  # painted from the state's fields
    assert np.array_equal(masks["dashboard"], dashboard)
    kept = PaintedGround(camera(fields=False), names, 64).painted[0, 0].numpy() == 0  # left to the decoder without them
    assert np.array_equal(masks["dashboard"], kept)
    assert not (masks["car"] & masks["dashboard"]).any()
    (r0, r1), (c0, c1) = paint.car.rows, paint.car.cols
    car = np.zeros((64, 64))
    car[r0:r1, c0:c1] = (paint.car.hull + paint.car.wheels.amax(0)).numpy()
    assert masks["car"][car > 0].all()  # every pixel the car can cover lies in the box
    assert masks["digits"][56:, :8].all() and masks["digits"].sum() == 64


def test_kerbs_are_red_or_white_where_asked_and_parts_are_laid_in():
    tells = load_script("scripts/games_realism_tells.py")
    colours = [(100, 202, 100), (100, 228, 100), (100, 100, 100), (105, 105, 105), (253, 253, 253), (253, 0, 0), (202, 0, 0)]
    frames = np.array(colours, dtype=np.uint8)[None, None]
    found = tells.kerbs(frames, np.ones((1, len(colours)), bool))[0, 0]
    assert found.tolist() == [False, False, False, False, True, True, True]  # the car's red too: hence `outside`
    outside = np.array([[True] * 6 + [False]])
    assert tells.kerbs(frames, outside)[0, 0].tolist() == [False, False, False, False, True, True, False]
    laid = tells.laid_in(
        np.zeros((1, 2, 2, 3), np.uint8), np.ones((1, 2, 2, 3), np.uint8), np.array([[True, False], [False, False]])
    )
    assert laid[0, 0, 0].tolist() == [1, 1, 1] and laid[0, 1].sum() == 0
