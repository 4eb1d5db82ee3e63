import textwrap

import numpy as np
import pytest

from worldsim.scenario import ScenarioError, available_scenarios, load_scenario
from worldsim.sources import make_source

IDLE = 1


def test_required_scenarios_exist_and_load():
    names = available_scenarios()
    for name in ("cut_in", "hard_brake", "merge", "dense_traffic", "block_near_goal", "fixed_track"):
        assert name in names
        assert load_scenario(name).name == name


def drive(name, steps, seed=None):
    """Run a driving scenario with the ego idling; yield (step, source, obs) after each step."""
    source = make_source("driving", scenario=name)
    obs = source.reset(seed=seed)
    for t in range(steps):
        obs = source.step(IDLE)
        yield t, source, obs
        if obs.terminated or obs.truncated:
            return


@pytest.mark.parametrize("seed", [None, 7])
def test_cut_in_changes_into_ego_lane(seed):
    for t, source, obs in drive("cut_in", 4, seed):
        cutter, ego = source.script.vehicles["cutter"], source.core.vehicle
        if t < 3:
            assert cutter.lane_index[2] == 0 and "events" not in obs.info
    assert obs.info["events"] == ["cutter:change_lane"]
    assert cutter.target_lane_index[2] == ego.lane_index[2] == 1
    assert 0 < cutter.position[0] - ego.position[0] < 20 or obs.info["crashed"]


@pytest.mark.parametrize("seed", [None, 7])
def test_hard_brake_decelerates_lead(seed):
    speeds = {}
    for t, source, _obs in drive("hard_brake", 6, seed):
        speeds[t] = source.script.vehicles["lead"].speed
    assert speeds[3] > 20.0
    assert speeds[3] - speeds[5] > 8.0  # ~6 m/s^2 for two steps


def test_merge_enters_ego_lane():
    lanes = {}
    for t, source, _ in drive("merge", 11):
        lanes[t] = source.script.vehicles["merger"].lane_index
    assert lanes[7][:2] != ("b", "c") or lanes[7][2] == 2  # still on the ramp side before the event
    assert lanes[10][2] == source.core.vehicle.lane_index[2] == 1
    assert lanes[10][0] in ("b", "c")


def test_dense_traffic_slows_down():
    mean_speed = {}
    for t, source, _ in drive("dense_traffic", 8):
        ego = source.core.vehicle
        mean_speed[t] = np.mean([v.speed for v in source.core.road.vehicles if v is not ego])
        if t == 0:
            assert len(source.core.road.vehicles) > 20
    assert mean_speed[7] < mean_speed[4] - 3.0


def test_pusht_scenario_sets_initial_pose():
    source = make_source("robotics", scenario="block_near_goal")
    obs = source.reset(seed=99)
    np.testing.assert_allclose(obs.state[[0, 1]], [100, 420], atol=1e-3)
    np.testing.assert_allclose(obs.state[[4, 5, 6]], [300, 220, 1.2], atol=1e-3)


def test_games_scenario_fixes_the_track():
    source = make_source("games", scenario="fixed_track")
    source.reset(seed=1)
    track_a = np.array(source.core.track)
    source.reset(seed=2)
    np.testing.assert_array_equal(track_a, np.array(source.core.track))


BAD = {
    "missing_seed": ("name: bad\ndomain: driving\n", "field (top level): 'seed' is a required property"),
    "bad_speed": (
        "name: bad\ndomain: driving\nseed: 1\nvehicles:\n  - {id: a, lane: 0, speed: fast}\n",
        "field vehicles[0].speed",
    ),
    "unknown_key": ("name: bad\ndomain: games\nseed: 1\ntrack_seed: 2\nweather: rain\n", "weather"),
    "unknown_vehicle": (
        "name: bad\ndomain: driving\nseed: 1\nevents:\n  - {at_step: 1, vehicle: ghost, action: brake}\n",
        "field events[0].vehicle: 'ghost'",
    ),
    "missing_target": (
        "name: bad\ndomain: driving\nseed: 1\nvehicles:\n  - {id: a, lane: 0, speed: 20}\n"
        "events:\n  - {at_step: 1, vehicle: a, action: change_lane}\n",
        "field events[0]: 'target_lane' is a required property",
    ),
    "bad_block": ("name: bad\ndomain: robotics\nseed: 1\nagent: [1, 2]\nblock: [1, 900, 0]\n", "field block[1]"),
    "not_yaml": ("name: [unclosed\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_names_file_and_field(tmp_path, case):
    text, expected = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_name_must_match_file(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text("name: bad\ndomain: games\nseed: 1\ntrack_seed: 2\n")
    with pytest.raises(ScenarioError, match="field name"):
        load_scenario(path)


def test_unknown_scenario_name_lists_known():
    with pytest.raises(ScenarioError, match="cut_in"):
        load_scenario("no_such_scenario")
