"""The development scripts (scripts/) start: their imports follow the project's modules
(`--help` runs every import at the top of a script, then argparse's usage)."""

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPTS = sorted(p.name for p in (REPO / "scripts").glob("*.py"))
NEEDS = {"compare_fer.py": "fer"}     # a package the comparison alone installs


def test_every_script_is_listed():
    assert "stream_check.py" in SCRIPTS and len(SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_script_starts(script):
    needed = NEEDS.get(script)
    if needed and importlib.util.find_spec(needed) is None:
        pytest.skip(f"{script} needs the {needed!r} package, which the tests do not install")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--help"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
