"""The README's "Use it from Python" example runs as written, on a generated clip."""

import re
import subprocess
import sys

from app.io import synthetic
from tests.conftest import REPO


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Use it from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_example_reads_the_faces_of_a_clip(tmp_path):
    code = readme_example()
    assert '"clip.mp4"' in code
    # the example's own file name, in a folder of its own: a generated face clip
    synthetic.write_clip(tmp_path / "clip.mp4", [synthetic.drawn_face(160)],
                         synthetic.ClipSpec(frames=24))
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line.split(maxsplit=4) for line in run.stdout.splitlines()]
    assert len(lines) >= 22                                   # the face in ~every frame
    assert [int(line[0]) for line in lines] == sorted(int(line[0]) for line in lines)
    assert {line[1] for line in lines} == {"1"}               # one face, one track
    assert all(line[2] in ("angry", "disgust", "fear", "happy", "sad", "surprise",
                           "neutral") and line[3].endswith("%") for line in lines)


def test_the_package_roots_export_what_a_program_needs():
    import app
    import model

    assert set(app.__all__) >= {"EmotionPipeline", "Detection", "PipelineConfig"}
    assert set(model.__all__) >= {"EMOTIONS", "EmotionClassifier"}
    for name in app.__all__:
        assert getattr(app, name) is not None and (name.startswith("__") or
                                                   getattr(app, name).__doc__)
    from model.runtime.classifier import EmotionClassifier

    assert model.EmotionClassifier is EmotionClassifier
