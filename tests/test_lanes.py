"""The road's lanes (worldsim.model.lanes): every state the dynamics make keeps the ego and the
present cars on lane centres, gradients pass straight through, and an existing run gets the
domain's lanes without a weight changed (scripts/derive_checkpoint.py)."""

import json

import numpy as np
import pytest
import torch
from driving_states import FIELDS, driving_state
from test_derive_checkpoint import derive
from tiny_models import TINY

from worldsim.model.checkpoint import load_model, read_config
from worldsim.model.config import ModelConfig
from worldsim.model.lanes import Lanes, check_lanes
from worldsim.model.world_model import WorldModel
from worldsim.sources.driving import LANES, lanes

SPEC = lanes(neighbours=2)


def unit_lanes() -> Lanes:
    return Lanes(SPEC, {f: i for i, f in enumerate(FIELDS)})


def state(**values: float) -> torch.Tensor:
    return torch.from_numpy(driving_state(**values))


def test_places_move_to_the_nearest_lane_centre_and_absent_cars_stay():
    ones, zeros = torch.ones(len(FIELDS)), torch.zeros(len(FIELDS))
    before = torch.stack(
        [
            state(ego_y=4.6, car0_present=1, car0_dy=-2.9, car1_present=1, car1_dy=5.1),  # cars at 1.7 and 9.7 m
            state(ego_y=-1.5, car0_present=1, car0_dy=13.0, car1_present=0, car1_dy=2.0),  # off both road edges; absent
        ]
    )
    after = unit_lanes()(before, ones, zeros)
    y = lambda row, name: float(after[row, FIELDS.index(name)])  # noqa: E731
    assert (y(0, "ego_y"), y(0, "car0_dy"), y(0, "car1_dy")) == (4.0, -4.0, 4.0)  # lanes 0 and 2 beside the ego's 1
    assert (y(1, "ego_y"), y(1, "car0_dy"), y(1, "car1_dy")) == (0.0, 8.0, 2.0)  # held on the road; the absent slot as it was
    keep = [i for i, f in enumerate(FIELDS) if f not in ("ego_y", "car0_dy", "car1_dy")]
    assert torch.equal(after[:, keep], before[:, keep])


def test_codes_are_snapped_in_their_units_and_gradients_pass_straight_through():
    scale, shift = torch.rand(len(FIELDS)) + 0.5, torch.randn(len(FIELDS))
    units = state(ego_y=7.2, car0_present=1, car0_dy=-3.5, car1_present=1, car1_dy=0.4)[None]
    code = ((units - shift) / scale).requires_grad_()
    after = unit_lanes()(code, scale, shift)
    back = after * scale + shift
    assert back[0, FIELDS.index("ego_y")].item() == pytest.approx(8.0)
    assert back[0, FIELDS.index("car0_dy")].item() == pytest.approx(-4.0)  # 3.7 m: lane 1
    assert back[0, FIELDS.index("car1_dy")].item() == pytest.approx(0.0, abs=1e-5)  # 7.6 m: the ego's lane
    weights = torch.randn_like(after)
    (after * weights).sum().backward()
    assert torch.allclose(code.grad, weights)


def test_a_car_beside_the_ego_stays_in_its_lane_unless_the_ego_steers_into_it():
    ones, zeros = torch.ones(len(FIELDS)), torch.zeros(len(FIELDS))
    # before the step: the ego in lane 1 (4 m); a car 2 m ahead in lane 2, another 12 m ahead in lane 2
    before = state(ego_y=4.0, car0_present=1, car0_dx=2.0, car0_dy=4.0, car1_present=1, car1_dx=12.0, car1_dy=4.0)
    # the step moves both into the ego's lane: car0 beside the ego, car1 12 m ahead of it
    after = state(ego_y=4.3, car0_present=1, car0_dx=1.5, car0_dy=-1.0, car1_present=1, car1_dx=12.0, car1_dy=-1.0)
    rear = state(ego_y=4.0, car0_present=1, car0_dx=3.0, car0_dy=0.4)  # already in the ego's lane: a crash ahead
    rear_before = state(ego_y=4.0, car0_present=1, car0_dx=9.0, car0_dy=0.0)
    steered = state(ego_y=3.6, car0_present=1, car0_dx=1.0, car0_dy=0.2)  # the ego moved from lane 0 onto the car
    steered_before = state(ego_y=0.0, car0_present=1, car0_dx=1.0, car0_dy=4.0)
    steps = torch.stack([after, rear, steered])
    befores = torch.stack([before, rear_before, steered_before])
    y = lambda out, row, name: float(out[row, FIELDS.index(name)])  # noqa: E731
    kept = unit_lanes()(steps, ones, zeros, before=befores)
    assert y(kept, 0, "car0_dy") == 4.0  # beside the ego: stays in lane 2
    assert y(kept, 0, "car1_dy") == 0.0  # 12 m ahead: a lane change the traffic makes
    assert y(kept, 1, "car0_dy") == 0.0 and y(kept, 2, "car0_dy") == 0.0  # the crashes highway-env has
    plain = Lanes(lanes(neighbours=2, merge_gap=None), {f: i for i, f in enumerate(FIELDS)})(steps, ones, zeros, before=befores)
    assert y(plain, 0, "car0_dy") == 0.0  # without merge_gap the snap puts it on the ego
    assert torch.equal(unit_lanes()(steps, ones, zeros), plain)  # and without the state before, too


def test_the_ego_changes_lanes_only_under_a_steering_action():
    ones, zeros = torch.ones(len(FIELDS)), torch.zeros(len(FIELDS))
    before = state(ego_y=4.0, car0_present=1, car0_dx=30.0, car0_dy=0.0)
    after = state(ego_y=6.3, car0_present=1, car0_dx=29.0, car0_dy=-2.3)  # nearer lane 2 now; the car where it was
    steps, befores = torch.stack([after, after]), torch.stack([before, before])
    actions = torch.nn.functional.one_hot(torch.tensor([1, 2]), 5).float()  # IDLE, LANE_RIGHT
    out = unit_lanes()(steps, ones, zeros, before=befores, action=actions)
    y = lambda row, name: float(out[row, FIELDS.index(name)])  # noqa: E731
    assert (y(0, "ego_y"), y(0, "car0_dy")) == (4.0, 0.0)  # IDLE: the ego stays in lane 1, behind the car
    assert (y(1, "ego_y"), y(1, "car0_dy")) == (8.0, -4.0)  # told to: lane 2
    plain = Lanes(lanes(neighbours=2, steering=False), {f: i for i, f in enumerate(FIELDS)})
    assert float(plain(steps, ones, zeros, before=befores, action=actions)[0, FIELDS.index("ego_y")]) == 8.0


def test_a_dreamt_step_gives_the_lanes_the_state_it_stepped_from_and_its_action():
    net = lanes_model()
    seen = []
    snap = net.lanes.forward

    def spy(code, scale, shift, before=None, action=None):
        seen.append((before, action))
        return snap(code, scale, shift, before, action)

    net.lanes.forward = spy
    latent = 0.5 * torch.randn(3, net.config.latent_dim)
    actions = torch.tensor([[0], [3], [4]])
    with torch.no_grad():
        net.imagine(latent, actions)
    assert len(seen) == 1 and torch.equal(seen[0][0], net.split(latent)[0])
    assert torch.equal(seen[0][1], torch.nn.functional.one_hot(actions[:, 0], 5).float())


def test_a_lanes_spec_is_checked():
    check_lanes({}, FIELDS)
    check_lanes(SPEC, FIELDS)
    with pytest.raises(ValueError, match="keys"):  # a name is resolved before a model sees it (derive_checkpoint.py)
        check_lanes("road", FIELDS)
    with pytest.raises(ValueError, match="keys"):
        check_lanes({k: v for k, v in SPEC.items() if k != "width"}, FIELDS)
    with pytest.raises(ValueError, match=r"\['car2_dy'\] are not state fields"):
        check_lanes({**SPEC, "relative": ["car0_dy", "car2_dy"]}, FIELDS)
    with pytest.raises(ValueError, match="one present field"):
        check_lanes({**SPEC, "present": ["car0_present"]}, FIELDS)
    with pytest.raises(ValueError, match="width"):
        check_lanes({**SPEC, "width": 0}, FIELDS)
    with pytest.raises(ValueError, match="count"):
        check_lanes({**SPEC, "count": 2.5}, FIELDS)
    check_lanes(lanes(neighbours=2, merge_gap=None), FIELDS)
    with pytest.raises(ValueError, match="both of"):  # a merge gap needs the cars' places along the road
        check_lanes({k: v for k, v in SPEC.items() if k != "along"}, FIELDS)
    with pytest.raises(ValueError, match="one along field"):
        check_lanes({**SPEC, "along": ["car0_dx"]}, FIELDS)
    with pytest.raises(ValueError, match="merge_gap"):
        check_lanes({**SPEC, "merge_gap": -1}, FIELDS)
    with pytest.raises(ValueError, match="steering is a list of action ids"):
        check_lanes({**SPEC, "steering": ["LANE_LEFT"]}, FIELDS)
    space = {"type": "discrete", "n": 5}
    with pytest.raises(ValueError, match="not state fields"):  # the model's config checks it
        ModelConfig(domain="driving", frame_size=32, action_space=space, state_fields=FIELDS[:11], lanes=SPEC)
    with pytest.raises(ValueError, match="not ids of this model's actions"):
        ModelConfig(domain="driving", frame_size=32, action_space={"type": "discrete", "n": 2}, state_fields=FIELDS, lanes=SPEC)


def lanes_model() -> WorldModel:
    """A tiny untrained driving model with two neighbours, dreaming on SPEC's lanes."""
    config = ModelConfig(
        domain="driving", frame_size=32, action_space={"type": "discrete", "n": 5}, state_fields=FIELDS, lanes=SPEC, **TINY
    )
    torch.manual_seed(0)
    net = WorldModel(config).eval()
    rng = np.random.default_rng(0)
    fitted = rng.normal(0, 5, (64, len(FIELDS))).astype(np.float32)
    fitted[:, [FIELDS.index("car0_present"), FIELDS.index("car1_present")]] = 1.0
    net.fit_state_normalisation(torch.from_numpy(fitted))
    return net


def test_every_dreamt_state_keeps_to_the_lanes():
    net = lanes_model()
    latent = 0.5 * torch.randn(6, net.config.latent_dim)
    with torch.no_grad():
        rollout = net.imagine(latent, torch.randint(0, 5, (6, 4)))
    states = rollout.states.flatten(0, 1).numpy()
    own = states[:, FIELDS.index("ego_y")]
    assert np.allclose(own, np.clip(np.round(own / 4) * 4, 0, 8), atol=1e-4)
    for k in range(2):
        present = states[:, FIELDS.index(f"car{k}_present")] > 0.5
        place = own + states[:, FIELDS.index(f"car{k}_dy")]
        assert present.any()
        assert np.allclose(place[present], np.round(place[present] / 4) * 4, atol=1e-3)


def test_a_generated_start_is_put_on_the_lanes_then_in_the_simulators_order():
    from worldsim.model.scene import as_simulated

    net = lanes_model()
    # the ego between lanes 0 and 1; a car 30 m ahead on its lane, one 8 m ahead between lanes 0 and 1
    start = state(ego_y=2.6, car0_present=1, car0_dx=30.0, car0_dy=0.7, car1_present=1, car1_dx=8.0, car1_dy=-2.3)
    _, h, z = net.split(0.1 * torch.randn(1, net.config.latent_dim))
    latent = torch.cat([net.normalise_state(start[None]), h, z], -1)
    with torch.no_grad():
        made = net.physical_state(as_simulated(net, latent))[0]
    y = lambda name: round(float(made[FIELDS.index(name)]), 3)  # noqa: E731
    assert y("ego_y") == 4.0  # lane 1
    assert (y("car0_dx"), y("car0_dy")) == (8.0, -4.0)  # the nearer car listed first, on lane 0
    assert (y("car1_dx"), y("car1_dy")) == (30.0, 0.0)  # the other on the ego's lane


def test_a_run_gets_the_domains_lanes_without_a_weight_changed(tiny_run, tmp_path, monkeypatch, capsys):
    source = tiny_run("driving")
    out = tmp_path / "lanes"
    derive(monkeypatch, source, out, json.dumps({"lanes": "road"}))
    model, _ = load_model(out)
    assert model.config.lanes == LANES and model.lanes is not None
    assert read_config(out)["recipe"]["derived"]["options"] == {"lanes": LANES}
    before = load_model(source)[0].state_dict()
    assert all(torch.equal(tensor, before[name]) for name, tensor in model.state_dict().items())
    with pytest.raises(SystemExit):  # PushT has no lanes
        derive(monkeypatch, tiny_run("robotics"), tmp_path / "no", json.dumps({"lanes": "road"}))
    assert "no lanes" in capsys.readouterr().err
