"""Write a webcam-like 640x360 clip (app/io/webcam_clip.py) to time detection on:

    python scripts/webcam_clip.py OUT.avi [--emotion happy] [--pick 0] [--size 150]
                                  [--seconds 10] [--seed 0]
    python main.py bench --video OUT.avi

The face is the `--pick`th FER-2013 training crop of `--emotion` that the Haar
cascade finds (as bench's own clip picks them), or a drawn face without the data set.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.commands.fer_faces import FER_DEFAULT, fer_faces  # noqa: E402
from app.io import synthetic  # noqa: E402
from app.io.webcam_clip import write_webcam_clip  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--data", default=str(FER_DEFAULT))
    ap.add_argument("--emotion", default="happy")
    ap.add_argument("--pick", type=int, default=0)
    ap.add_argument("--size", type=int, default=150, help="face width, pixels")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    faces = fer_faces(args.data, args.emotion, args.pick + 1)
    face = faces[args.pick] if len(faces) > args.pick else synthetic.drawn_face(160, args.emotion)
    source = "FER-2013" if len(faces) > args.pick else "drawn (FER-2013 not found)"
    fps = 30.0
    boxes = write_webcam_clip(args.out, face, fps=fps, frames=int(args.seconds * fps),
                              size=args.size, seed=args.seed)
    print(f"{args.out}: {len(boxes)} frames, 640x360, a {source} {args.emotion} face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
