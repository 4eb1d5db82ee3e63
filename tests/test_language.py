"""Scene attributes, captions and prompts: captions read back into what they state, what they state
holds on the state they describe, and prompts a domain cannot ground are refused by name."""

import numpy as np
import pytest

from worldsim import domains
from worldsim.language.captions import captions_of_states
from worldsim.language.prompt import PromptError, parse_prompt
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.start_bank import load_start_bank

TABLES = {name: domains.get(name).load("attributes") for name in ("driving", "robotics", "games")}


def others(domain):
    return tuple(t for name, t in TABLES.items() if name != domain)


def parse(text, domain):
    return parse_prompt(text, TABLES[domain], others(domain))


@pytest.mark.parametrize("domain", sorted(TABLES))
def test_captions_read_back_into_what_they_state_and_it_holds(domain):
    bank = load_start_bank(resolve_checkpoint(domain))
    fields = load_model(resolve_checkpoint(domain))[0].config.state_fields
    states = bank["states"].reshape(-1, len(fields))[::7][:120]
    rng = np.random.default_rng(0)
    captions = captions_of_states(TABLES[domain], states, fields, rng)
    assert len({text for text, _ in captions}) > 0.8 * len(captions)  # varied words, not one pattern
    for state, (text, stated) in zip(states, captions, strict=True):
        parsed = parse(text, domain)
        assert parsed.attributes == stated and parsed.ignored == [], text
        assert all(bool(ok[0]) for ok in TABLES[domain].check(stated, state, fields).values()), text


def test_robotics_attributes_read_the_state_as_the_frame_shows_it():
    table = TABLES["robotics"]
    fields = ["agent_x", "agent_y", "agent_vx", "agent_vy", "block_x", "block_y", "block_angle", "coverage"]
    # y points down the frame: (60, 60) is the top-left; angle pi draws the T upside down
    state = np.array([20, 300, 0, 0, 60, 60, np.pi, 0.0])
    read = {name: table.value_of(name, v[0]) for name, v in table.read(state, fields).items()}
    assert read["block_region"] == "top-left" and read["block_orientation"] == "upside down"
    assert read["agent_region"] == "left" and read["agent_side"] == "below the block"
    assert read["block_goal"] == "far from the goal" and read["agent_contact"] == "away from the block"


def test_prompts_from_the_issue_are_read():
    parsed = parse("the T block upside down near the top-left corner", "robotics")
    assert parsed.attributes == {"block_orientation": "upside down", "block_region": "top-left"}
    parsed = parse("ego in the left lane at 30 m/s, a car 10 m ahead braking", "driving")
    assert parsed.attributes == {"ego_lane": "left", "ego_speed": 30.0, "car_ahead_gap": 10.0, "car_ahead_speed": "slower"}
    parsed = parse("dense traffic, ego in the left lane at 30 m/s", "driving")
    assert parsed.attributes["traffic"] == "dense"
    assert parse("the car slow, turning right", "games").attributes == {"pace": "slow", "turning": "turning right"}


@pytest.mark.parametrize(
    ("domain", "prompt", "named"),
    [
        ("driving", "", "empty"),
        ("driving", "   ", "empty"),
        ("driving", "ego at 400 m/s", "400"),
        ("driving", "ego in lane 7 of 3", "lane 7"),
        ("driving", "a road of 5 lanes, ego in the left lane", "lane count"),
        ("driving", "ego at 5 m/s", "15-35"),  # possible, but not in what the data covers
        ("robotics", "dense traffic, the block on the goal", "driving words"),
        ("driving", "the T block upside down", "robotics words"),
        ("games", "a sharp right bend ahead, car slow", "track geometry"),
        ("robotics", "the block upright and upside down", "two values of block_orientation"),
        ("robotics", "a purple elephant", "can be asked for"),
    ],
)
def test_prompts_a_domain_cannot_ground_are_refused_by_name(domain, prompt, named):
    with pytest.raises(PromptError, match=named):
        parse(prompt, domain)


def test_a_non_string_prompt_is_a_clear_error():
    with pytest.raises(PromptError, match="a prompt is a string, got int"):
        parse(7, "driving")


def test_words_that_ask_for_nothing_are_reported_not_dropped():
    parsed = parse("the block upside down, glittering and purple", "robotics")
    assert parsed.attributes == {"block_orientation": "upside down"}
    assert parsed.ignored == ["glittering", "purple"]
    assert parsed.to_json()["ignored"] == ["glittering", "purple"]


def test_shipped_prompt_sets_load_and_dev_prompts_read_as_labelled():
    from worldsim.language.prompt_sets import KINDS, load_prompt_set, prompt_set_path

    for domain in TABLES:
        sets = {split: load_prompt_set(prompt_set_path(domain, split)) for split in ("dev", "heldout")}
        dev, held_out = sets["dev"], sets["heldout"]
        assert {c.text for c in dev.cases}.isdisjoint(c.text for c in held_out.cases if c.text.strip())
        assert {c.kind for c in held_out.cases} >= set(KINDS) - ({"relational"} if domain == "games" else set())
        for case in dev.cases:  # the dev set is what the reading is tuned on
            if case.kind == "out_of_range":
                with pytest.raises(PromptError, match=case.refused):
                    parse(case.text, domain)
            else:
                assert parse(case.text, domain).attributes == case.attributes, case.text


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ("{kind: simple, text: 'the block upright', attributes: {block_tilt: upright}}", "no attribute 'block_tilt'"),
        ("{kind: simple, text: 'the block upright', attributes: {block_orientation: sideways}}", "'sideways' is not one of"),
        ("{kind: relational, text: 'the block upright', attributes: {block_orientation: upright}}", "relational attribute"),
        ("{kind: out_of_range, text: 'x'}", "refused"),
        ("{kind: vague, text: 'x'}", "kind 'vague'"),
    ],
)
def test_a_broken_prompt_set_names_the_file_and_the_prompt(tmp_path, entry, named):
    from worldsim.language.prompt_sets import PromptSetError, load_prompt_set

    path = tmp_path / "set.yaml"
    path.write_text(f"domain: robotics\nsplit: dev\nprompts:\n  - {entry}\n")
    with pytest.raises(PromptSetError, match=named) as error:
        load_prompt_set(path)
    assert str(path) in str(error.value) and "prompt 1" in str(error.value)
