"""The shared text + scene space: tokenizer and encoder round trips, a tiny contrastive run that
lowers its loss, saving and loading, and `worldsim train-text`."""

import json

import numpy as np
import pytest
import torch

from worldsim.cli import main
from worldsim.data import Dataset
from worldsim.language.robotics import ATTRIBUTES
from worldsim.model.checkpoint import load_model
from worldsim.model.text import SharedSpace, TextConfig, TextModelError, Tokenizer, load_shared_space, save_shared_space
from worldsim.model.text_training import TextTrainConfig, multi_positive_nce, train_shared_space

CAPTIONS = [
    "the T block upside down in the top-left corner",
    "the agent left of the block, the block on the goal",
    "the block turned right near the goal",
    "the pusher at the bottom, touching the block",
] * 10


def test_tokenizer_round_trips_and_splits_unseen_words_into_known_pieces():
    tokenizer = Tokenizer.train(CAPTIONS, vocab_size=120)
    again = Tokenizer.from_json(tokenizer.to_json())
    ids, mask = tokenizer(CAPTIONS[:4], max_tokens=32)
    assert torch.equal(ids, again(CAPTIONS[:4], max_tokens=32)[0]) and mask[0].sum() > 3
    assert "[UNK]" not in tokenizer.tokens("the blocks upside down at the leftmost corner")
    cut, _ = tokenizer(["the block " * 40], max_tokens=16)
    assert cut.shape == (1, 16)


def test_text_embeddings_are_unit_vectors_that_padding_does_not_change():
    tokenizer = Tokenizer.train(CAPTIONS, vocab_size=120)
    space = SharedSpace(TextConfig(domain="robotics", latent_dim=10, attributes={"block_region": 9}), tokenizer).eval()
    with torch.no_grad():
        alone = space.embed_texts(["the block on the goal"])
        batched = space.embed_texts(["the block on the goal", CAPTIONS[1] + " and " + CAPTIONS[0]])
        scenes = space.embed_scenes(torch.randn(3, 10))
    assert torch.allclose(alone[0], batched[0], atol=1e-5)
    assert torch.allclose(batched.norm(dim=-1), torch.ones(2)) and torch.allclose(scenes.norm(dim=-1), torch.ones(3))


def test_multi_positive_nce_rewards_mass_on_every_positive():
    positive = torch.tensor([[True, True, False], [False, True, False], [False, False, True]])
    right = torch.tensor([[5.0, 5.0, -5.0], [-5.0, 5.0, -5.0], [-5.0, -5.0, 5.0]])
    assert multi_positive_nce(right, positive) < multi_positive_nce(-right, positive)


@pytest.fixture(scope="module")
def text_run(tiny_run, tmp_path_factory):
    run = tiny_run("robotics")
    model, _ = load_model(run)
    config = TextTrainConfig(
        steps=40, reader_steps=20, batch_size=16, every=1, context=3, val_fraction=0.3, pool=5, corpus=300, vocab_size=150
    )
    space, report = train_shared_space(model, Dataset(run.parent / "data"), config, progress=False)
    out = tmp_path_factory.mktemp("text")
    save_shared_space(space, out, report)
    return run, space, report, out


def test_a_tiny_contrastive_run_lowers_its_loss_and_reports_retrieval(text_run):
    _, _, report, _ = text_run
    assert report["loss"]["last"] < report["loss"]["first"]
    retrieval = report["retrieval"]
    for way in ("text_to_scene", "scene_to_text"):
        for k in (1, 5):
            assert 0.0 <= retrieval[f"{way}_exact@{k}"] <= 1.0 and 0.0 <= retrieval[f"{way}_match@{k}_chance"] <= 1.0
    assert retrieval["exact@1_chance"] == pytest.approx(1 / 5)
    assert set(retrieval["attributes"]) <= set(ATTRIBUTES.names)


def test_a_saved_space_loads_with_the_same_embeddings(text_run):
    _, space, report, out = text_run
    loaded, loaded_report = load_shared_space(out)
    with torch.no_grad():
        texts = ["the block upside down", "the agent at the top"]
        assert torch.equal(space.embed_texts(texts), loaded.embed_texts(texts))
        latents = torch.randn(2, space.config.latent_dim)
        assert torch.equal(space.embed_scenes(latents), loaded.embed_scenes(latents))
    assert loaded_report["loss"] == report["loss"]
    described = loaded.attribute_values(loaded.embed_scenes(latents), {a.name: a.values for a in ATTRIBUTES.attributes})
    assert described[0]["block_region"] in ATTRIBUTES["block_region"].values


def test_a_missing_or_broken_text_model_is_named(text_run, tmp_path):
    _, _, _, out = text_run
    with pytest.raises(TextModelError, match="no text model"):
        load_shared_space(tmp_path)
    for name in ("text.json", "text.safetensors"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    meta = json.loads((tmp_path / "text.json").read_text())
    (tmp_path / "text.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(TextModelError, match="version 99"):
        load_shared_space(tmp_path)
    (tmp_path / "text.json").write_text("{not json")
    with pytest.raises(TextModelError, match="not valid JSON"):
        load_shared_space(tmp_path)


def test_a_text_model_stays_bound_to_its_latents_whatever_draws_them(text_run, tmp_path):
    run, space, _, _ = text_run
    model, _ = load_model(run)
    save_shared_space(space, tmp_path, world_model=model)
    with torch.no_grad():
        next(model.decoder.parameters()).add_(1.0)  # a refitted decoder: the latents mean what they meant
    load_shared_space(tmp_path, world_model=model)
    with torch.no_grad():
        next(model.encoder.parameters()).add_(1.0)  # a new encoder: they do not
    with pytest.raises(TextModelError, match="trained beside another world model"):
        load_shared_space(tmp_path, world_model=model)


def test_a_text_model_saved_before_the_latents_binding_is_checked_on_every_weight(text_run, tmp_path):
    from worldsim.model.checkpoint import weights_fingerprint

    run, space, _, _ = text_run
    model, _ = load_model(run)
    save_shared_space(space, tmp_path)
    meta = json.loads((tmp_path / "text.json").read_text())
    (tmp_path / "text.json").write_text(json.dumps({**meta, "world_model": weights_fingerprint(model)}))
    load_shared_space(tmp_path, world_model=model)
    with torch.no_grad():
        next(model.decoder.parameters()).add_(1.0)
    with pytest.raises(TextModelError, match="trained beside another world model"):
        load_shared_space(tmp_path, world_model=model)


def test_train_text_command(text_run, tmp_path, capsys):
    run, _, _, _ = text_run
    data = str(run.parent / "data")
    args = ["train-text", "--checkpoint", str(run), "--data", data, "--out", str(tmp_path), "--steps", "3", "--every", "1"]
    args += ["--generator-steps", "5", "--reader-steps", "5"]
    assert main(args + ["--pool", "5", "--quiet"]) == 0
    assert "text to scene" in capsys.readouterr().out and (tmp_path / "text.safetensors").is_file()
    assert main(args + ["--pool", "0"]) == 2 and "--pool must be at least 1" in capsys.readouterr().err
    assert main(args + ["--pool", "5000", "--quiet"]) == 2 and "fewer than a pool of 5000" in capsys.readouterr().err
    assert np.isfinite(json.loads((tmp_path / "text.json").read_text())["report"]["loss"]["last"])


def test_numbers_are_learnt_in_their_tolerance_unless_the_text_model_predates_it(tmp_path):
    from worldsim.language.driving import ATTRIBUTES as DRIVING

    tokenizer = Tokenizer.train(["a car 35 m ahead, slower than the ego", "our car doing 28 m/s"] * 5, 60)
    kinds = {a.name: 0 if a.numeric else len(a.values) for a in DRIVING.attributes}
    ranges = {"ego_speed": [15, 35], "car_ahead_gap": [0, 120]}
    current = SharedSpace(TextConfig("driving", 8, kinds, ranges, tolerances={"ego_speed": 2.5, "car_ahead_gap": 5}), tokenizer)
    assert current.number_scales() == pytest.approx({"ego_speed": 0.125, "car_ahead_gap": 5 / 120})
    save_shared_space(current, tmp_path / "now")
    assert load_shared_space(tmp_path / "now")[0].number_scales() == pytest.approx(current.number_scales())
    meta = json.loads((tmp_path / "now" / "text.json").read_text())
    del meta["config"]["tolerances"]  # a text.json written before numbers were learnt in their tolerance
    (tmp_path / "now" / "text.json").write_text(json.dumps(meta))
    assert load_shared_space(tmp_path / "now")[0].number_scales() == {}


def test_each_digit_token_carries_the_value_of_the_number_it_spells():
    from worldsim.model.text import number_features

    tokenizer = Tokenizer.train(["a car 35 m ahead, our car doing 28 m/s", "lane 2"] * 5, 60)
    texts = ["a car 35 m ahead", "our car doing 2.5 m/s", "no number here"]
    ids, _ = tokenizer(texts, max_tokens=16)
    values = tokenizer.numbers(texts, max_tokens=16)
    assert values.shape == ids.shape
    tokens = tokenizer.tokens(texts[0])
    for token, value in zip(tokens, values[0].tolist(), strict=False):
        assert value == 35.0 if token in "35" else np.isnan(value)
    assert sorted(set(values[1][~values[1].isnan()].tolist())) == [2.5]
    assert values[2].isnan().all()
    features = number_features(values, 4)
    assert features.shape == (*ids.shape, 9)
    assert (features[2] == 0).all()  # tokens that are no number add nothing
    near, far = (number_features(torch.tensor([v]), 4)[0] for v in (35.0, 36.0)), number_features(torch.tensor([80.0]), 4)[0]
    near = list(near)
    assert (near[0] - near[1]).norm() < (near[0] - far).norm()


def test_a_number_reading_encoder_sees_the_value_beyond_the_digit_tokens():
    from worldsim.language.driving import ATTRIBUTES as DRIVING

    tokenizer = Tokenizer.train(["a car 35 m ahead", "a car 15 m ahead"] * 5, 60)
    kinds = {a.name: 0 if a.numeric else len(a.values) for a in DRIVING.attributes}
    ranges = {"ego_speed": [15, 35], "car_ahead_gap": [0, 120]}
    torch.manual_seed(0)
    space = SharedSpace(TextConfig("driving", 8, kinds, ranges, number_features=4), tokenizer)
    ids, mask = tokenizer(["a car 35 m ahead"], 16)
    values = tokenizer.numbers(["a car 35 m ahead"], 16)
    with torch.no_grad():
        said = space.text(ids, mask, values)
        assert torch.equal(said, space.embed_texts(["a car 35 m ahead"]))
        # the same tokens carrying another value: only the number features differ
        assert not torch.allclose(said, space.text(ids, mask, torch.where(values.isnan(), values, values + 1)))
    with pytest.raises(ValueError, match="numbers' values"):
        space.text(ids, mask)
