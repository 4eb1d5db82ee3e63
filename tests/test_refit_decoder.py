"""scripts/refit_decoder.py: a state-drawing decoder refitted on true states alone, grafted back
into its model with every other weight as it was, and the text model carried along."""

import sys

import pytest
import torch
from script_modules import load_script
from tiny_models import TINY

from worldsim.data import CollectRequest, Dataset, collect
from worldsim.model.checkpoint import load_model, read_config, save_model
from worldsim.model.retrain import refit_command
from worldsim.model.text import SharedSpace, TextConfig, Tokenizer, load_shared_space, save_shared_space
from worldsim.model.train import model_config_for
from worldsim.model.world_model import WorldModel

DRAWS_STATE = {**TINY, "draws_on_previous": False, "decoder": "field", "decoder_input": "state"}


def refit(monkeypatch, *args) -> None:
    script = load_script("scripts/refit_decoder.py")
    monkeypatch.setattr(sys, "argv", ["refit_decoder.py", *map(str, args)])
    script.main()


@pytest.fixture(scope="module")
def pusht(tmp_path_factory):
    root = tmp_path_factory.mktemp("refit") / "data"
    collect(CollectRequest(domain="robotics", out=str(root), episodes=3, max_steps=6, seed=5), progress=False)
    return root


def test_only_the_decoder_changes_and_the_output_is_never_overwritten(pusht, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = WorldModel(model_config_for(Dataset(pusht), DRAWS_STATE))
    source = save_model(model, tmp_path / "model")
    tokenizer = Tokenizer.train(["the block on the goal", "the agent left of the block"] * 4, vocab_size=60)
    text = TextConfig(domain="robotics", latent_dim=model.config.latent_dim, attributes={"block_region": 9})
    space = SharedSpace(text, tokenizer)
    save_shared_space(space, source, {"loss": 1.0}, world_model=model)
    out = tmp_path / "refitted"
    options = ("--data", pusht, "--test", pusht, "--every", 1, "--steps", 3, "--batch", 4, "--threads", 1)
    refit(monkeypatch, source, "--out", out, *options)
    before, after = load_model(source)[0].state_dict(), load_model(out)[0].state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith("decoder.") for name in changed)
    assert not (tmp_path / "refitted.partial").exists()
    refitted, _ = load_model(out)
    carried, report = load_shared_space(out, world_model=refitted)  # the text model came along, bound again
    assert report == {"loss": 1.0} and all(torch.equal(v, space.state_dict()[k]) for k, v in carried.state_dict().items())
    recipe = read_config(out)["recipe"]  # the source's recipe kept, the refit beside it
    assert recipe["refit_decoder"]["steps"] == 3 and recipe["refit_decoder"]["checkpoint"] == str(source)
    (line,) = refit_command(recipe, "robotics")  # and the model card's retraining ends with it
    assert line.startswith("python scripts/refit_decoder.py runs/robotics --out runs/robotics-redrawn") and "--steps 3" in line
    with pytest.raises(SystemExit):  # an existing directory is refused
        refit(monkeypatch, source, "--out", out, *options)


def test_a_decoder_that_reads_the_latent_is_refused(pusht, tmp_path, monkeypatch, capsys):
    source = save_model(WorldModel(model_config_for(Dataset(pusht), TINY)), tmp_path / "model")
    with pytest.raises(SystemExit):
        refit(monkeypatch, source, "--out", tmp_path / "refitted", "--data", pusht, "--test", pusht, "--steps", 1)
    assert "not the state alone" in capsys.readouterr().err
    assert not (tmp_path / "refitted").exists()


def test_a_view_grows_the_decoder_and_it_starts_drawing_as_before(tmp_path, monkeypatch):
    """--view camera: the decoder is given the domain's camera (highway-env's car boxes and lane
    markings); its first layer widens with zero weights, so before any step it draws what the
    source drew, and the camera's painted markings alone change the frames."""
    root = tmp_path / "data"
    collect(CollectRequest(domain="driving", out=str(root), episodes=2, max_steps=4, seed=1), progress=False)
    torch.manual_seed(0)
    model = WorldModel(model_config_for(Dataset(root), DRAWS_STATE))
    source = save_model(model, tmp_path / "model")
    script = load_script("scripts/refit_decoder.py")
    grown = script.with_view(model, script.parse_view("camera", "driving"))
    codes = model.normalise_state(torch.from_numpy(Dataset(root).episode(0).states))
    with torch.no_grad():
        drawn, view = grown.decoder_inputs(codes)
        assert torch.allclose(grown.decoder(drawn, view=view), model.draw_state(codes), atol=1e-6)
        share = grown.painted_lines.coverage(grown.denormalise_state(codes))
        changed = (grown.draw_state(codes) - model.draw_state(codes)).abs().amax(1, keepdim=True) > 1e-6
        assert share.sum() > 0 and not (changed & (share == 0)).any()
    assert grown.config.decoder_view["bodies"]["length"] == 5.0
    out = tmp_path / "refitted"
    refit(
        monkeypatch,
        source,
        "--out",
        out,
        "--data",
        root,
        "--test",
        root,
        "--every",
        1,
        "--steps",
        2,
        "--batch",
        4,
        "--view",
        "camera",
    )
    refitted, config = load_model(out)
    assert refitted.config.decoder_view == grown.config.decoder_view
    (line,) = refit_command(config["recipe"], "driving")
    assert "--view camera" in line
    with pytest.raises(ValueError, match="JSON"):
        script.parse_view("{not json", "driving")


def test_a_decoder_is_grafted_from_a_model_that_draws_the_same_codes(pusht, tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    model = WorldModel(model_config_for(Dataset(pusht), DRAWS_STATE))
    source = save_model(model, tmp_path / "model")
    torch.manual_seed(1)
    donor = WorldModel(model_config_for(Dataset(pusht), DRAWS_STATE))
    donor.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("decoder.")}, strict=False)
    donor_path = save_model(donor, tmp_path / "donor")
    out = tmp_path / "grafted"
    refit(monkeypatch, source, "--out", out, "--data", pusht, "--test", pusht, "--steps", 0, "--decoder-from", donor_path)
    grafted, config = load_model(out)
    for name, tensor in grafted.state_dict().items():
        expected = (donor if name.startswith("decoder.") else model).state_dict()[name]
        assert torch.equal(tensor, expected), name
    assert "--decoder-from" in refit_command(config["recipe"], "robotics")[0]
    other = WorldModel(model_config_for(Dataset(pusht), {**DRAWS_STATE, "channels": 8}))  # draws at another width
    with pytest.raises(SystemExit):
        refit(
            monkeypatch,
            source,
            "--out",
            tmp_path / "no",
            "--data",
            pusht,
            "--test",
            pusht,
            "--steps",
            0,
            "--decoder-from",
            save_model(other, tmp_path / "other"),
        )
    assert "channels" in capsys.readouterr().err and not (tmp_path / "no").exists()
