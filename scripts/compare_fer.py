"""Time the `fer` package against this app's pipeline on the same decoded frames.

The figure the README quotes. `fer` is not a dependency; install it next to the
project in a throw-away venv that can see the project's packages, e.g.:

    python3 -m venv /tmp/fervenv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/fervenv/lib/python3.11/site-packages/project.pth
    /tmp/fervenv/bin/pip install --no-deps fer requests pillow pandas tqdm "setuptools<81"
    PYTHONPATH=$PWD /tmp/fervenv/bin/python scripts/compare_fer.py clip.avi [MODEL]

MODEL: this app's emotion model file (default: the shipped one).

Decoding and drawing are left out for both; both run in this one process.
"""
import json, sys, time
import cv2, numpy as np
from fer.fer import FER
from app.core.pipeline import EmotionPipeline

cap = cv2.VideoCapture(sys.argv[1])
frames = []
while True:
    ok, f = cap.read()
    if not ok:
        break
    frames.append(f)
fer, pipe = FER(mtcnn=False), EmotionPipeline(sys.argv[2] if len(sys.argv) > 2 else None)
res = {}
for name, fn in (("fer", fer.detect_emotions), ("ours", None)):
    times, found, labels = [], 0, []
    for i, f in enumerate(frames):
        t = time.perf_counter()
        out = fer.detect_emotions(f) if name == "fer" else pipe.process(f, timestamp=i / 30)
        times.append((time.perf_counter() - t) * 1000)
        found += bool(out)
        if out:
            labels.append(max(out[0]["emotions"], key=out[0]["emotions"].get)
                          if name == "fer" else out[0].label)
    res[name] = {"median_ms": round(float(np.median(times[5:])), 2),
                 "p90_ms": round(float(np.percentile(times[5:], 90)), 2),
                 "frames": len(frames), "frames_with_face": found,
                 "label_changes": sum(a != b for a, b in zip(labels, labels[1:]))}
res["speedup_median"] = round(res["fer"]["median_ms"] / res["ours"]["median_ms"], 1)
print(json.dumps(res, indent=1))
