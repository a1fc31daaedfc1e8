"""The installation the README promises: the right packages, pins and entry points.

CI runs the README's own test command, and a regular (non-editable) install must
still find the shipped model next to the code.
"""

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    return cfg


def _lines(value):
    return [line.strip() for line in value.splitlines() if line.strip()]


def _readme_commands():
    """The commands of the README's first sh block, comments left out."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"^```(?:sh|bash|shell)\n(.*?)^```", text, re.S | re.M)
    assert block, "README.md has no sh code block"
    return [line for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_readme_starts_with_the_two_commands():
    first, second = _readme_commands()
    assert "pip install -e ." in first and first.endswith("python main.py")
    assert 'pip install -e ".[test]"' in second and second.endswith("python -m pytest")
    # The block is the first thing after the title and one line of prose.
    assert (REPO / "README.md").read_text().index("```sh") < 200


def test_ci_runs_exactly_the_readmes_test_command():
    out = subprocess.run(["bash", str(REPO / ".ci/run"), "--print-test-command"],
                         capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == _readme_commands()[1]


def test_every_package_is_installed_and_no_other_top_level_name():
    options = _setup_cfg()["options"]
    listed = set(_lines(options["packages"]))
    on_disk = {".".join(p.parent.relative_to(REPO).parts)
               for top in ("app", "model") for p in (REPO / top).rglob("__init__.py")}
    assert on_disk - listed == set(), "add these packages to setup.cfg [options] packages"
    assert {name.split(".")[0] for name in listed} == {"app", "model"}
    assert "model.assets = assets" in options["package_dir"]
    assert "py_modules" not in options                     # main.py is not installed


def test_opencv_is_the_full_build_and_below_5():
    reqs = _lines(_setup_cfg()["options"]["install_requires"])
    opencv = [r for r in reqs if r.startswith("opencv")]
    assert len(opencv) == 1 and re.match(r"opencv-python[<>=]", opencv[0]), opencv
    assert "<5" in opencv[0]


def test_the_installed_console_script_points_at_the_cli():
    """The installed package's metadata (not setup.cfg re-read) names app.cli.main."""
    from importlib.metadata import entry_points

    import app.cli

    found = [ep for ep in entry_points(group="console_scripts") if ep.name == "emotion-detector"]
    assert len(found) == 1 and found[0].load() is app.cli.main
    assert app.cli.build_parser().prog == "emotion-detector"


def test_installed_console_script_runs():
    script = Path(sys.executable).parent / "emotion-detector"
    if not script.is_file():
        pytest.skip(f"project not installed in this environment ({script} missing)")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                         timeout=60, cwd=REPO.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: emotion-detector")
    assert "evaluate" in out.stdout and "process" in out.stdout


def test_runtime_libraries_import_together():
    """The combination pip resolved works in one process (protobuf, NumPy 2 ABI)."""
    code = (
        "import numpy, cv2, PyQt5.QtWidgets, ai_edge_litert.interpreter, tensorflow\n"
        "import os, importlib.metadata as md\n"
        "xml = os.path.join(cv2.data.haarcascades, 'haarcascade_frontalface_default.xml')\n"
        "assert not cv2.CascadeClassifier(xml).empty(), xml\n"
        "names = {d.metadata['Name'].lower() for d in md.distributions()}\n"
        "assert 'opencv-python-headless' not in names, 'headless OpenCV installed'\n"
        "print(numpy.__version__, cv2.__version__, tensorflow.__version__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[1].startswith("4."), out.stdout


def _copy_source(dest: Path):
    keep = ["setup.cfg", "pyproject.toml", "README.md", "main.py", "app", "model", "assets"]
    for name in keep:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The project's wheel, built offline from a copy of the sources."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, dist = tmp / "src", tmp / "dist"
    src.mkdir()
    _copy_source(src)
    build = subprocess.run(PIP + ["wheel", "--no-deps", "--no-index", "--no-build-isolation",
                                  "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=180)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    return next(dist.glob("emotion_detector-*.whl"))


PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]


def test_the_wheel_holds_two_packages_and_the_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"app", "model"}                # no main, common, assets or tests
    assert {"app/cli.py", "model/runtime/classifier.py", "model/assets/emotion_cnn.tflite",
            "model/assets/emotion_accurate.json", "model/assets/emotion_cnn_large.tflite",
            "model/assets/MODEL_CARD.md"} <= names
    from app import __version__

    assert wheel.name.startswith(f"emotion_detector-{__version__}-")


def test_regular_install_finds_the_shipped_model(wheel, tmp_path):
    """Install the wheel elsewhere and load the model from there."""
    site = tmp_path / "site"
    install = subprocess.run(PIP + ["install", "--no-deps", "--no-index", "--target",
                                    str(site), str(wheel)],
                             capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stderr[-2000:]
    code = ("import numpy as np\n"
            "from model.runtime.classifier import DEFAULT_MODEL, EmotionClassifier\n"
            "probs = EmotionClassifier.load().predict(np.zeros((48, 48), np.uint8))\n"
            "print(DEFAULT_MODEL, probs.shape)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr[-2000:]
    model_path, shape = run.stdout.split(maxsplit=1)
    assert Path(model_path) == site / "model" / "assets" / "emotion_cnn.tflite"
    assert shape.strip() == "(1, 7)"


def test_the_wheel_in_a_fresh_venv_runs_the_command_from_another_folder(wheel, tmp_path):
    """A new venv outside the checkout gets the wheel; its dependencies come from this
    environment's site-packages through a .pth file (the wheel's own requirements are
    resolved by CI's check for other systems; downloading them again here would only
    cost time). From a folder far from the checkout: --version, and process a clip."""
    import sysconfig

    from app import __version__
    from app.io import synthetic

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True, check=True)
    target = Path(purelib.stdout.strip())
    (target / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(PIP + ["--python", str(py), "install", "--no-deps", "--no-index",
                                    str(wheel)],
                             capture_output=True, text=True, timeout=180)
    assert install.returncode == 0, install.stderr[-2000:]
    command = venv / "bin" / "emotion-detector"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True,
                             cwd=elsewhere, env=env, timeout=60)
    assert version.returncode == 0, version.stderr[-2000:]
    assert version.stdout.strip() == f"emotion-detector {__version__}"
    clip = elsewhere / "clip.avi"
    synthetic.write_clip(clip, [synthetic.drawn_face(160)], synthetic.ClipSpec(frames=20))
    run = subprocess.run([str(command), "process", str(clip), "-o", "out", "--no-progress",
                          "--no-video"], capture_output=True, text=True, cwd=elsewhere,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((elsewhere / "out" / "summary.json").read_text())
    assert summary["frames"] == 20 and summary["faces"] >= 18
    where = subprocess.run([str(py), "-c",
                            "import model.runtime.classifier as c; print(c.DEFAULT_MODEL)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(target)     # the venv's, not the checkout's
