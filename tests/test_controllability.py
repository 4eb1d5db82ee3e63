"""Controllability: the program tables hold in the simulators themselves (their documented signs are
the simulators' sign conventions), and the report on a tiny model has the documented layout."""

import numpy as np
import pytest

from worldsim import domains
from worldsim.behaviour.programs import State
from worldsim.model.checkpoint import load_model
from worldsim.model.controllability import ControllabilityConfig, _sign, controllability, format_controllability_report
from worldsim.sources import make_source


def program(domain: str, name: str):
    return next(p for p in domains.get(domain).load("programs") if p.name == name)


@pytest.mark.parametrize(
    "domain, names",
    [
        ("games", ("gas", "steer left")),  # from a standing start; steer -1 turns the heading up (left)
        ("robotics", ("move right", "push the block")),
        ("driving", ("faster", "lane left")),  # lane left lowers ego_y: y grows towards the right-hand lanes
    ],
)
def test_programs_have_their_documented_sign_in_the_simulator(domain, names):
    source = make_source(domain)
    fields = [f.name for f in source.state_fields]
    try:
        for name in names:
            p = program(domain, name)
            start = State.of(source.reset(seed=1).state, fields)
            states = [start] + [State.of(source.step(a).state, fields) for a in p.actions(start)]
            change = p.response(start, states[-1]) - p.response(start, states[p.judged_from])
            assert abs(change) >= p.dead_band and np.sign(change) == p.sign, (name, change)
    finally:
        source.close()


def test_every_domain_names_its_programs():
    for spec in domains.DOMAINS.values():
        programs = spec.load("programs")
        assert programs and len({p.name for p in programs}) == len(programs)
    with pytest.raises(ValueError, match="no programs"):
        domains.GENERIC.load("programs")


def test_dead_band_counts_as_no_change():
    assert _sign(np.array([-3.0, -0.5, 0.0, 0.9, 2.0]), 1.0).tolist() == [-1, 0, 0, 0, 1]


def check_layout(report, programs, starts, readings):
    assert report["starts"] == starts and len(report["seeds"]) == starts
    assert list(report["programs"]) == [p.name for p in programs]
    for p in programs:
        entry = report["programs"][p.name]
        assert entry["sign"] == p.sign and entry["judged_from"] == p.judged_from
        assert set(entry) >= {"simulator", *readings}
        for name in ("simulator", *readings):
            assert len(entry[name]["curve"]) == p.steps + 1 and entry[name]["curve"][0] == 0.0
            assert len(entry[name]["change"]) == len(entry[name]["curves"]) == starts
        for name in readings:
            assert 0.0 <= entry[name]["sign_agreement"] <= 1.0
            ratio = entry[name]["size_ratio"]
            assert ratio is None or np.isfinite(ratio)
        assert 0 <= entry["simulator"]["ended"] <= starts
    assert set(report["sign_agreement_by_reading"]) == set(readings)
    assert report["sign_agreement"] == report["sign_agreement_by_reading"]["dream"]
    assert "sign agreement" in format_controllability_report(report)


def test_report_layout_robotics(tiny_run):
    model = load_model(tiny_run("robotics"))[0]
    programs = domains.get("robotics").load("programs")
    S = model.config.state_dim

    def probe(frames):  # stands in for a fitted state probe: anything frames -> (N, S)
        return np.repeat(frames.mean((1, 2, 3))[:, None], S, 1).astype(np.float32)

    report = controllability(model, 2, ControllabilityConfig(context=3), probe=probe)
    check_layout(report, programs, 2, ("dream", "dream_probe", "simulator_probe"))
    # PushT cannot be copied: each program replays its start, exactly.
    assert report["branching"] == "replay" and report["replay_mismatch"] == 0.0
    for entry in report["programs"].values():
        assert entry["simulator"]["expected_sign_share"] == 1.0


def test_report_layout_driving(tiny_run):
    model = load_model(tiny_run("driving"))[0]
    programs = [program("driving", "faster"), program("driving", "lane right")]
    config = ControllabilityConfig(context=3, programs=("faster", "lane right"))
    report = controllability(model, 2, config)
    check_layout(report, programs, 2, ("dream",))
    assert report["branching"] == "branch" and report["replay_mismatch"] is None
    with pytest.raises(ValueError, match="unknown program"):
        controllability(model, 1, ControllabilityConfig(programs=("reverse",)))
