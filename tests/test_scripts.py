"""The development scripts (scripts/) start: their imports follow the project's modules
(`--help` runs every import at the top of a script, then argparse's usage)."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPTS = ["average_weights.py", "compare_fer.py", "gpu_train.py", "person_check.py",
           "report_screenshot.py", "stream_check.py", "webcam_clip.py"]


def test_every_script_is_tested():
    assert sorted(p.name for p in (REPO / "scripts").glob("*.py")) == SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_script_starts(script):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--help"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
