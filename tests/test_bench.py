import json

from worldsim.cli import main
from worldsim.data import CollectRequest, collect


def test_bench_reports_sources_and_windows(tmp_path, capsys):
    out = tmp_path / "d"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=3, max_steps=20), progress=False)
    args = ["bench", "--domains", "robotics", "--steps", "20", "--dataset", str(out), "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    (row,) = report["sources"]
    assert row["domain"] == "robotics" and row["steps"] == 20 and row["steps_per_s"] > 0
    assert report["windows"]["transitions"] > 0 and report["windows"]["batches_per_s"] > 0
