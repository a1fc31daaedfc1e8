"""`process` with many inputs: a folder per input, combined outputs, every core,
resumable, one bad input reported and skipped."""

import json
import os
import subprocess
import sys

import pytest

from app.cli import main
from app.io import synthetic
from tests.conftest import REPO, read_csv


def _clips(folder, n=3, frames=20):
    folder.mkdir(parents=True, exist_ok=True)
    faces = [synthetic.drawn_face(160, e) for e in ("neutral", "happy", "sad")]
    paths = []
    for i in range(n):
        path = folder / f"clip{i}.avi"
        synthetic.write_clip(path, [faces[i % 3]], synthetic.ClipSpec(frames=frames, seed=i))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return _clips(tmp_path_factory.mktemp("batch") / "in")


def test_many_inputs_give_a_folder_each_and_combined_files(clips, tmp_path):
    out = tmp_path / "out"
    assert main(["process", *map(str, clips), "-o", str(out), "--no-progress",
                 "--jobs", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["clip0", "clip1", "clip2",
                                                     "detections.csv", "report.html",
                                                     "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] == 3 and summary["not_complete"] == 0
    assert [e["frames"] for e in summary["inputs"]] == [20, 20, 20]
    combined = read_csv(out / "detections.csv")
    for i, clip in enumerate(clips):
        own = read_csv(out / f"clip{i}" / "detections.csv")
        mine = [{k: v for k, v in r.items() if k != "input"} for r in combined
                if r["input"] == clip.name]
        assert mine == own and len(own) == summary["inputs"][i]["faces"] > 0


def test_jobs_give_the_same_results_as_one_job(clips, tmp_path):
    assert main(["process", *map(str, clips), "-o", str(tmp_path / "one"), "--no-progress",
                 "--jobs", "1"]) == 0
    assert main(["process", *map(str, clips), "-o", str(tmp_path / "two"), "--no-progress",
                 "--jobs", "2"]) == 0
    assert read_csv(tmp_path / "one" / "detections.csv") == read_csv(tmp_path / "two" /
                                                                "detections.csv")


def test_a_rerun_skips_what_is_finished_and_redoes_what_is_half_done(clips, tmp_path, caplog):
    out = tmp_path / "out"
    args = ["process", *map(str, clips), "-o", str(out), "--no-progress", "--jobs", "1"]
    assert main(args) == 0
    half = out / "clip1" / "summary.json"
    data = json.loads(half.read_text())
    half.write_text(json.dumps({**data, "status": "interrupted"}))
    before = (out / "clip0" / "detections.csv").stat().st_mtime_ns
    caplog.set_level("INFO")
    assert main(args) == 0
    assert "1 to process, 2 finished before" in caplog.text
    assert (out / "clip0" / "detections.csv").stat().st_mtime_ns == before   # untouched
    assert json.loads(half.read_text())["status"] == "complete"              # redone
    skipped = [e for e in json.loads((out / "summary.json").read_text())["inputs"]
               if e.get("skipped")]
    assert len(skipped) == 2


def test_a_bad_input_is_reported_and_the_batch_goes_on(clips, tmp_path):
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"not a video at all" * 100)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "main.py", "process", str(clips[0]), str(bad),
                           "-o", str(out), "--no-progress", "--jobs", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert "1 of 2 inputs not complete" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    status = {e["input"]: e["status"] for e in summary["inputs"]}
    assert status == {str(clips[0]): "complete", str(bad): "failed"}
    assert "broken.avi" in [e for e in summary["inputs"] if e["status"] == "failed"][0]["error"]
    assert (out / "clip0" / "summary.json").exists()


def test_a_folder_holding_other_files_is_not_overwritten(clips, tmp_path):
    out = tmp_path / "out"
    (out / "clip0").mkdir(parents=True)
    (out / "clip0" / "notes.txt").write_text("mine")
    with _raises_user_error():
        main(["process", str(clips[0]), str(clips[1]), "-o", str(out), "--no-progress",
              "--jobs", "1", "--debug"])
    assert (out / "clip0" / "notes.txt").read_text() == "mine"
    assert not (out / "clip0" / "detections.csv").exists()
    assert main(["process", str(clips[0]), str(clips[1]), "-o", str(out), "--no-progress",
                 "--jobs", "1", "--overwrite"]) == 0
    assert (out / "clip0" / "detections.csv").exists()


def _raises_user_error():
    from model.runtime.errors import UserError

    return pytest.raises(UserError, match="1 of 2 inputs not complete")


def test_a_folder_of_videos_is_one_input_per_video(clips, tmp_path):
    out = tmp_path / "out"
    assert main(["process", str(clips[0].parent), "-o", str(out), "--no-progress",
                 "--jobs", "1"]) == 0
    assert json.loads((out / "summary.json").read_text())["complete"] == 3


def test_the_same_batch_on_a_local_dask_cluster(clips, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")
    assert main(["process", *map(str, clips), "-o", str(tmp_path / "one"), "--no-progress",
                 "--jobs", "1"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert main(["process", *map(str, clips), "-o", str(tmp_path / "dask"),
                     "--no-progress", "--scheduler", cluster.scheduler_address]) == 0
        with distributed.Client(cluster.scheduler_address) as client:
            worker_pids = set(client.run(os.getpid).values())
    # it really ran in the cluster's worker processes, not here
    ran_in = {int(e["worker"].rsplit(":", 1)[1]) for e in
              json.loads((tmp_path / "dask" / "summary.json").read_text())["inputs"]}
    assert ran_in and ran_in <= worker_pids and os.getpid() not in ran_in
    assert read_csv(tmp_path / "one" / "detections.csv") == read_csv(tmp_path / "dask" /
                                                                "detections.csv")
    assert json.loads((tmp_path / "dask" / "summary.json").read_text())["complete"] == 3


def test_an_unreachable_scheduler_is_one_line(clips, tmp_path):
    pytest.importorskip("distributed", reason="the cluster extra is not installed")
    proc = subprocess.run([sys.executable, "main.py", "process", *map(str, clips[:2]), "-o",
                           str(tmp_path / "x"), "--scheduler", "nope://127.0.0.1:9"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "cannot reach the Dask scheduler" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_batch_job_is_typed_picklable_and_gets_one_core_and_no_bar(tmp_path, monkeypatch):
    import pickle

    import app.commands.process
    from app.commands.batch import BatchJob, run_batch
    from app.commands.options import ProcessOptions
    from app.core.config import DEFAULTS

    options = ProcessOptions(model="m.tflite", config=DEFAULTS.with_changes(min_face=60),
                             crops=True, jobs=1)
    job = BatchJob(tmp_path / "a.avi", tmp_path / "out" / "a", options)
    assert pickle.loads(pickle.dumps(job)) == job          # for the pool and the cluster
    given = []

    def fake_process_input(path, folder, opts):
        given.append((path, opts))
        raise app.commands.process.UserError("not really processed")

    monkeypatch.setattr(app.commands.process, "process_input", fake_process_input)
    inputs = [tmp_path / "a.avi", tmp_path / "b.avi"]
    for path in inputs:
        path.write_bytes(b"x")
    with pytest.raises(app.commands.process.UserError, match="2 of 2 inputs not complete"):
        run_batch(inputs, tmp_path / "out", options)
    assert [p for p, _ in given] == inputs
    for _, opts in given:
        assert opts == ProcessOptions(model="m.tflite", config=options.config, crops=True,
                                      jobs=1, threads=1, show_progress=False)
