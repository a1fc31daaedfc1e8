"""docs/report.png: the top of a report.html, made from a generated clip (a drawn face,
no real one), with two markers, as Chromium shows it.

    python scripts/report_screenshot.py [--out docs/report.png]

Needs Debian's chromium (/usr/bin/chromium) and the test extra's Playwright.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import main  # noqa: E402
from app.io import synthetic  # noqa: E402

WIDTH, HEIGHT = 860, 1500     # px of the page shown; the screenshot is its top


def make_report(folder: Path) -> Path:
    os.chdir(folder)                      # the page names the clip, not a temp folder
    clip = Path("interview.avi")
    faces = [synthetic.drawn_face(160, "neutral"), synthetic.drawn_face(160, "happy")]
    synthetic.write_clip(clip, faces, synthetic.ClipSpec(frames=240, change_at=4.0,
                                                         width=480, height=360, seed=3))
    out = Path("out")
    if main(["process", str(clip), "-o", str(out), "--no-progress"]) != 0:
        sys.exit("process failed")
    (out / "markers.csv").write_text("time,frame,number,text\n2.000,60,1,\n"
                                     "4.500,135,0,the joke\n", encoding="utf-8")
    if main(["report", str(out)]) != 0:
        sys.exit("report failed")
    return (out / "report.html").resolve()


def screenshot(report: Path, png: Path):
    import io

    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.goto(report.resolve().as_uri(), wait_until="load")
        shot = page.screenshot(clip={"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT})
        browser.close()
    # a palette of 128 colours: a small file that still reads well
    image = Image.open(io.BytesIO(shot)).convert("RGB").quantize(128)
    image.save(png, optimize=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/report.png"))
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    args.out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        screenshot(make_report(Path(tmp)), args.out)
    print(args.out, args.out.stat().st_size, "bytes")
