import json

from worldsim.cli import main
from worldsim.data import CollectRequest, collect


def test_bench_reports_sources_and_windows(tmp_path, capsys):
    out = tmp_path / "d"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=3, max_steps=20), progress=False)
    args = ["bench", "--domains", "robotics", "--steps", "20", "--dataset", str(out), "--no-dream", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["sources"]
    assert row["domain"] == "robotics" and row["steps"] == 20 and row["steps_per_s"] > 0
    assert report["windows"]["transitions"] > 0 and report["windows"]["batches_per_s"] > 0


def test_bench_times_worldsim_envs_against_the_simulator(tiny_run, capsys):
    run = tiny_run("robotics")
    args = [
        "bench",
        "--domains",
        "robotics",
        "--steps",
        "20",
        "--checkpoint",
        str(run),
        "--num-envs",
        "4",
        "--dream-steps",
        "5",
        "--threads",
        "1",
        "2",
        "--json",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    (simulator,) = report["sources"]
    rows = {(r["num_envs"], r["obs_type"], r["torch_threads"]): r for r in report["worldsim"]}
    assert set(rows) == {(n, kind, t) for n, kind in ((1, "pixels"), (4, "pixels"), (4, "latent")) for t in (1, 2)}
    for row in rows.values():
        assert row["steps_per_s"] > 0 and row["device"] == "cpu"
        assert abs(row["ratio_to_simulator"] - row["steps_per_s"] / simulator["steps_per_s"]) < 1e-9
    assert main(["bench", "--domains", "robotics", "games", "--checkpoint", str(run)]) == 2
    assert "exactly one domain" in capsys.readouterr().err


def test_bench_refuses_a_device_or_batch_it_cannot_time(capsys):
    assert main(["bench", "--domains", "robotics", "--device", "tpu:9"]) == 2
    assert "tpu:9" in capsys.readouterr().err
    assert main(["bench", "--domains", "robotics", "--num-envs", "0"]) == 2
    assert "--num-envs must be a positive integer" in capsys.readouterr().err
    assert main(["bench", "--domains", "robotics", "--threads", "0"]) == 2
    assert "--threads must be positive" in capsys.readouterr().err
