"""The command line of train and evaluate: help, options, exit codes and error lines."""

import argparse
import json
import subprocess
import sys
from dataclasses import MISSING as MISSING_
from typing import Any

import pytest

from app.cli import main
from app.parser import build_parser
from tests.conftest import REPO, TINY_STAGES


def _run(*argv, timeout=120):
    """`python main.py ARGV` in the checkout, as a user runs it."""
    return subprocess.run([sys.executable, "main.py", *map(str, argv)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _error_line(proc) -> str:
    """The one line a failed command writes to stderr (TensorFlow's noise aside)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_help_lists_every_command_without_importing_the_heavy_libraries():
    code = ("import sys\nfrom app.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    code = e.code\n"
            "print('EXIT', code, *[m for m in ('tensorflow', 'keras', 'ai_edge_litert', 'PyQt5',"
            " 'matplotlib')"
            " if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    for command in ("process", "report", "bench", "train", "evaluate"):
        assert command in proc.stdout
    assert proc.stdout.splitlines()[-1] == "EXIT 0"  # and none of the modules was imported


@pytest.mark.parametrize("command, options", [
    ("train", ["--data", "--epochs", "--batch-size", "--resume", "--out", "--seed"]),
    ("evaluate", ["--data", "--split", "--model", "--confusion", "--no-flip", "--accurate",
                  "--robustness"]),
])
def test_command_help_shows_its_options(capsys, command, options):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert all(option in text for option in options), text


@pytest.mark.parametrize("value", ["32,x", "32,0", ""])
def test_train_channels_must_be_whole_numbers_per_stage(capsys, value):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["train", "--channels", value])
    assert done.value.code == 2
    assert "one per stage, with commas between" in capsys.readouterr().err
    assert build_parser().parse_args(["train", "--channels", "32,64"]).channels == [32, 64]


@pytest.mark.parametrize("argv", [
    ["-v", "evaluate"], ["evaluate", "-v"], ["--verbose", "train"], ["train", "--verbose"],
])
def test_verbose_counts_before_and_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.debug is False


def test_debug_counts_before_the_command_and_defaults_stay_false():
    assert build_parser().parse_args(["--debug", "train"]).debug is True
    args = build_parser().parse_args(["evaluate"])
    assert args.verbose is False and args.debug is False and args.model is None


@pytest.mark.parametrize("command", [["evaluate"], ["process", "in.mp4", "-o", "out"],
                                     ["bench"]], ids=lambda c: c[0])
def test_a_command_takes_the_model_given_before_or_after_it(command):
    parse = build_parser().parse_args
    assert parse(["--model", "a.tflite", *command]).model == "a.tflite"
    assert parse([*command, "--model", "b.keras"]).model == "b.keras"
    assert parse(command).model is None


def _csv_with_other_columns(folder):
    path = folder / "x.csv"
    path.write_text("a,b\n1,2\n")
    return path


@pytest.mark.parametrize("make, shown", [
    (lambda tmp: tmp / "missing", "data set not found"),
    (lambda tmp: tmp, "wrong layout"),
    (_csv_with_other_columns, "wrong columns"),
], ids=["missing", "wrong-layout", "wrong-csv"])
def test_train_with_bad_data_fails_with_one_line(tmp_path, make, shown):
    data = make(tmp_path)
    proc = _run("train", "--data", data, "--out", tmp_path / "run")
    assert proc.returncode == 2 and proc.stdout == ""
    line = _error_line(proc)
    assert shown in line and str(data) in line
    assert proc.stderr.strip() == line  # checked before TensorFlow is imported: no noise
    assert not (tmp_path / "run").exists()


def test_evaluate_with_a_missing_or_corrupt_model_fails_with_one_line(tmp_path, tiny_folder):
    missing = _run("evaluate", "--data", tiny_folder, "--model", tmp_path / "none.tflite",
                   "--confusion", tmp_path / "cm.png")
    assert missing.returncode == 2 and missing.stdout == ""
    assert f"model file not found: {tmp_path / 'none.tflite'}" in _error_line(missing)

    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"TFL3" + bytes(100))
    proc = _run("evaluate", "--data", tiny_folder, "--model", corrupt,
                "--confusion", tmp_path / "cm.png")
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"cannot read model {corrupt}: not a valid .tflite file" in _error_line(proc)
    assert not (tmp_path / "cm.png").exists()


def test_debug_shows_the_traceback(tmp_path):
    proc = _run("--debug", "evaluate", "--data", tmp_path, "--model", tmp_path / "none.tflite")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ModelError: model file not found" in proc.stderr


def test_evaluate_prints_only_json_on_stdout(tiny_run, tmp_path):
    cfg, out = tiny_run
    proc = _run("evaluate", "--data", cfg.data, "--split", "PublicTest",
                "--model", out / "emotion_cnn.tflite", "--confusion", tmp_path / "cm.png")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["split"] == "PublicTest" and result["samples"] == 21
    assert (tmp_path / "cm.png").is_file()


def test_train_then_resume_from_the_command_line(tiny_folder, tmp_path, capsys, monkeypatch):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow")
    import keras

    import model.training.network

    real_build = model.training.network.build_model
    monkeypatch.setattr(model.training.network, "build_model",  # the tiny network, for speed
                        lambda stages=None, **kw: real_build(stages=TINY_STAGES, **kw))
    out = tmp_path / "run"
    common = ["--data", str(tiny_folder), "--out", str(out), "--batch-size", "8",
              "--no-quantize"]
    assert main(["train", *common, "--epochs", "1"]) == 0
    # the last line of stdout: the exported model (Keras prints its progress above it)
    assert capsys.readouterr().out.splitlines()[-1] == str(out / "emotion_cnn.tflite")
    assert main(["train", *common, "--epochs", "2", "--resume"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history["val_accuracy"]) == 2
    assert int(keras.models.load_model(out / "last.keras").optimizer.iterations) == 2 * 4

    # distillation: the options reach the run's settings, the teacher's outputs are kept
    student = tmp_path / "student"
    assert main(["train", *common[:2], "--out", str(student), "--batch-size", "8",
                 "--no-quantize", "--epochs", "1", "--teacher", str(out / "emotion_cnn.tflite"),
                 "--teacher-weight", "0.5", "--temperature", "3",
                 "--init", str(out / "best.keras")]) == 0
    config = json.loads((student / "state.json").read_text())["config"]
    assert (config["teacher"], config["teacher_weight"], config["temperature"], config["init"]) \
        == (str(out / "emotion_cnn.tflite"), 0.5, 3.0, str(out / "best.keras"))
    assert (student / "teacher.npz").is_file()


def test_train_shows_progress_and_no_tensorflow_noise(tiny_folder, tmp_path):
    """The real command in a fresh interpreter: our lines on stderr, TensorFlow's in a file."""
    out = tmp_path / "run"
    proc = _run("train", "--data", tiny_folder, "--out", out, "--epochs", "1",
                "--batch-size", "8", "--no-quantize", timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out / "emotion_cnn.tflite")
    assert "epoch 1/1" in proc.stderr                       # the progress bar inside the epoch
    for noise in ("oneDNN", "cpu_feature_guard", "NodeDef", "absl", "UserWarning",
                  "DeprecationWarning", "Statistics for quantized", "XNNPACK delegate"):
        assert noise not in proc.stderr, proc.stderr
    # kept, not lost: the runtime's line when train measures the exported file (oneDNN's
    # appears only on CPUs where TensorFlow turns oneDNN on: not on AVX2 alone)
    assert "Created TensorFlow Lite XNNPACK delegate" in (out / "tensorflow.log").read_text()


def test_train_and_keras_models_without_tensorflow_say_which_extra_to_install(tiny_folder,
                                                                              tmp_path):
    (tmp_path / "net.keras").write_bytes((REPO / "tests" / "__init__.py").read_bytes())
    import zipfile

    with zipfile.ZipFile(tmp_path / "net.keras", "w") as z:  # passes the zip check
        z.writestr("config.json", "{}")
    for argv in (["train", "--data", tiny_folder, "--out", tmp_path / "run"],
                 ["evaluate", "--data", tiny_folder, "--model", tmp_path / "net.keras"]):
        code = ("import sys\nsys.modules['tensorflow'] = sys.modules['keras'] = None\n"
                "from app.cli import main\nsys.exit(main(sys.argv[1:]))")
        proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert "pip install -e '.[train]'" in _error_line(proc)


def test_desktop_entry_is_installed_and_removed_under_the_users_data_folder(tmp_path):
    import configparser
    import os

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    proc = subprocess.run([sys.executable, "main.py", "--install-desktop-entry"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    desktop = tmp_path / "share/applications/emotion-detector.desktop"
    icon = tmp_path / "share/icons/hicolor/256x256/apps/emotion-detector.png"
    assert proc.stdout.split() == [str(desktop), str(icon)]
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(desktop)
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == str(icon)
    exe = section["Exec"].split()[0]
    assert os.access(exe.strip("'"), os.X_OK)              # a program that exists
    import cv2

    assert cv2.imread(str(icon), cv2.IMREAD_UNCHANGED).shape == (256, 256, 4)
    proc = subprocess.run([sys.executable, "main.py", "--uninstall-desktop-entry"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and not desktop.exists() and not icon.exists()


# ------------------------------------------- every default written once (app.cli)

def _subparser(name):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices[name]


def _held_to(actions, defaults: dict) -> list:
    """The dests of `actions` that have a default in `defaults`; each must equal it."""
    checked = []
    for action in actions:
        if action.dest in defaults and action.default is not argparse.SUPPRESS:
            assert action.default == defaults[action.dest], action.dest
            checked.append(action.dest)
    return checked


def test_every_option_with_a_field_defaults_to_that_field():
    from dataclasses import MISSING, fields

    from app.commands.options import BenchOptions, ProcessOptions
    from app.core.config import PipelineConfig
    from app.parser import field_defaults

    _, process = _subparser("process")
    assert sorted(_held_to(process._actions, {**field_defaults(ProcessOptions),
                                              **field_defaults(PipelineConfig)})) == \
        ["accurate", "annotated", "baseline", "crops", "force_baseline", "jobs", "min_face",
         "osc", "overwrite", "report", "scheduler", "sensitivity", "serve", "show_progress",
         "smoothing"]
    _, bench = _subparser("bench")
    assert sorted(_held_to(bench._actions, field_defaults(BenchOptions))) == \
        ["batch_clips", "frames", "hard_seconds", "soak_frames", "video"]
    # and what the parser gives without options builds the defaults themselves
    from app.parser import picked

    args = build_parser().parse_args(["process", "in.mp4", "-o", "out"])
    assert ProcessOptions(**picked(field_defaults(ProcessOptions), args)) == ProcessOptions()
    assert PipelineConfig(**picked(field_defaults(PipelineConfig), args)) == PipelineConfig()
    args = build_parser().parse_args(["bench"])
    assert BenchOptions(**picked(field_defaults(BenchOptions), args)) == BenchOptions()
    assert all(f.default is not MISSING for f in fields(ProcessOptions))


def test_train_evaluate_and_app_defaults_come_from_where_they_are_declared():
    """TrainConfig's fields and run_evaluate's and run_app's signatures give the
    defaults (no TensorFlow for --help); the parser holds to them."""
    import inspect

    from app.gui.main import run_app
    from app.parser import app_defaults, evaluate_defaults, train_defaults
    from model.training.evaluate import run_evaluate

    def signature_defaults(func):
        return {n: p.default for n, p in inspect.signature(func).parameters.items()
                if p.default is not inspect.Parameter.empty}

    read = {k: v for k, v in evaluate_defaults().items() if v is not MISSING_}
    assert read == signature_defaults(run_evaluate)
    assert app_defaults() == signature_defaults(run_app)
    parser, evaluate = _subparser("evaluate")
    assert sorted(_held_to(evaluate._actions, read)) == \
        ["accurate", "confusion", "flip", "labels", "reliability", "robustness", "split",
         "votes"]
    assert sorted(_held_to(parser._actions, app_defaults())) == \
        ["exit_after", "loop", "model", "osc", "record", "serve", "snapshots", "source",
         "stats_every"]
    _, train = _subparser("train")
    declared = {k: v for k, v in train_defaults().items() if v is not MISSING_}
    assert sorted(_held_to(train._actions, declared)) == \
        ["augment", "batch_size", "channels", "ema", "epochs", "init", "label_weight",
         "labels", "lr",
         "out", "quantize", "seed", "slim", "space_to_depth", "stem_stride", "teacher",
         "teacher_on", "teacher_weight", "temperature", "unvoted", "votes", "widen"]
    pytest.importorskip("tensorflow", reason="model.training.train needs TensorFlow")
    from dataclasses import fields

    from model.training.train import TrainConfig

    assert declared == {f.name: f.default for f in fields(TrainConfig)
                        if f.default is not MISSING_}
    assert set(train_defaults()) == {f.name for f in fields(TrainConfig)}


def test_command_help_shows_the_declared_defaults(capsys):
    from app.core.config import DEFAULTS

    for command, shown in [("train", ["(default: 40)", "(default: 64)", "(default: 0.001)",
                                      "(default: runs/train)", "(default: 0.7)"]),
                           ("bench", ["(default: 300)", "(default: 10)"]),
                           ("process", [f"(default: {DEFAULTS.sensitivity})",
                                        f"(default: {DEFAULTS.min_face};"]),
                           ("evaluate", ["(default: PrivateTest;"])]:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert all(s in text for s in shown), (command, text)


def test_the_handlers_pass_dataclasses_on(monkeypatch, tmp_path):
    """process and bench hand their options on as one dataclass each."""
    import app.commands.bench
    import app.commands.process
    from app.commands.options import BenchOptions, ProcessOptions

    got: dict[str, Any] = {}
    monkeypatch.setattr(app.commands.process, "run_process",
                        lambda path, out, options: got.setdefault("process", options) and 0)
    monkeypatch.setattr(app.commands.bench, "run_bench",
                        lambda options: got.setdefault("bench", options) and 0)
    clip = tmp_path / "a.avi"
    clip.write_bytes(b"x")
    assert main(["process", str(clip), "-o", str(tmp_path / "o"), "--no-video", "--crops",
                 "--min-face", "60", "--no-smoothing", "--model", "m.tflite"]) == 0
    options = got["process"]
    assert options == ProcessOptions(model="m.tflite", crops=True, annotated=False,
                                     config=options.config)
    assert (options.config.min_face, options.config.smoothing) == (60, False)
    assert main(["bench", "--frames", "5", "--soak", "7", "--hard-seconds", "0"]) == 0
    assert got["bench"] == BenchOptions(frames=5, soak_frames=7, hard_seconds=0.0)
