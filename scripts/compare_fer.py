"""Time the `fer` package against this app's pipeline on the same decoded frames.

The figure the README quotes. `fer` is not a dependency; install it next to the
project in a throw-away venv that can see the project's packages, e.g.:

    python3 -m venv /tmp/fervenv
    echo "$PWD/.venv/lib/python3.11/site-packages" \
        > /tmp/fervenv/lib/python3.11/site-packages/project.pth
    /tmp/fervenv/bin/pip install --no-deps fer requests pillow pandas tqdm "setuptools<81"
    PYTHONPATH=$PWD /tmp/fervenv/bin/python scripts/compare_fer.py clip.avi [MODEL]

MODEL: this app's emotion model file (default: the shipped one).

Decoding and drawing are left out for both; both run in this one process.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.playback import Playback  # noqa: E402


def compare(clip, model=None) -> dict:
    """Median and p90 ms a frame, faces found and label changes, for `fer` and this app,
    on the same decoded frames (each given its time in the clip)."""
    from fer.fer import FER  # not a dependency: see the module doc

    from app.core.pipeline import EmotionPipeline

    frames = list(Playback(clip))
    with EmotionPipeline(model) as pipe:
        return _compare(frames, FER(mtcnn=False), pipe)


def _compare(frames, fer, pipe) -> dict:
    res = {}
    for name in ("fer", "ours"):
        times, found, faces, labels = [], 0, 0, []
        for frame in frames:
            t = time.perf_counter()
            if name == "fer":
                theirs = fer.detect_emotions(frame.image)   # [{"emotions": {name: p}, ...}]
                label = max(theirs[0]["emotions"], key=theirs[0]["emotions"].get) \
                    if theirs else None
                faces += len(theirs)
            else:
                ours = pipe.process(frame.image, timestamp=frame.time)
                label = ours[0].label if ours else None
                faces += len(ours)
            times.append((time.perf_counter() - t) * 1000)
            found += label is not None
            if label is not None:
                labels.append(label)
        res[name] = {"median_ms": round(float(np.median(times[5:])), 2),
                     "p90_ms": round(float(np.percentile(times[5:], 90)), 2),
                     "frames": len(frames), "frames_with_face": found,
                     "faces_per_frame": round(faces / max(len(frames), 1), 2),
                     "label_changes": sum(a != b for a, b in zip(labels, labels[1:]))}
    res["speedup_median"] = round(res["fer"]["median_ms"] / res["ours"]["median_ms"], 1)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Time the fer package against this app.")
    ap.add_argument("clip", help="video to run both on")
    ap.add_argument("model", nargs="?", default=None,
                    help="this app's emotion model file (default: the shipped one)")
    args = ap.parse_args(argv)
    print(json.dumps(compare(args.clip, args.model), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
