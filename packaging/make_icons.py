"""Write packaging/icons/emotion-detector.ico and .icns (the Windows and macOS app
icons of the standalone app) from the app's own drawn icon (app.io.desktop_entry).
Run with the development install (Pillow comes with matplotlib, the train extra):
    .venv/bin/python packaging/make_icons.py
The files are committed: the bundle's build needs no Pillow."""

from pathlib import Path

import cv2
from PIL import Image

from app.io.desktop_entry import icon_image

OUT = Path(__file__).resolve().parent / "icons"


def main():
    OUT.mkdir(exist_ok=True)
    rgba = cv2.cvtColor(icon_image(512), cv2.COLOR_BGRA2RGBA)
    image = Image.fromarray(rgba, "RGBA")
    image.save(OUT / "emotion-detector.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64),
                                                    (128, 128), (256, 256)])
    image.save(OUT / "emotion-detector.icns")
    for path in sorted(OUT.iterdir()):
        print(path, path.stat().st_size)


if __name__ == "__main__":
    main()
