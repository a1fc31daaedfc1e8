"""The lint and type checks the project keeps clean: ruff (ruff.toml) and mypy
(setup.cfg), run over the checkout as a contributor would run them."""

import subprocess
import sys

from tests.conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # The interpreter running the tests, so the tools pinned in the test extra are used.
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=240)


def test_ruff_finds_nothing() -> None:
    # one line a finding (`ruff check .` shows each with its source lines)
    out = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_finds_nothing() -> None:
    # The files and the strictness are in setup.cfg [mypy]; the cache lands in the
    # checkout's .mypy_cache (ignored), which makes a second run take a second.
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr
