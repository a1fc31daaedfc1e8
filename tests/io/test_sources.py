"""Frame sources: cameras (through a fake capture), video files, images, folders,
and every way they can be bad."""

import random
import threading

import cv2
import numpy as np
import pytest

from app.io import synthetic
from app.io.sources import (
    CameraSource,
    ImageFolderSource,
    ImageSource,
    SourceError,
    VideoSource,
    list_cameras,
    load_image,
    open_source,
)
from tests.fakes import FakeCamera


def fast_camera(**fake):
    return CameraSource(0, capture_factory=FakeCamera.factory(**fake), retry_delay=0.0)


# -------------------------------------------------------------------- cameras

def test_camera_gives_frames_and_closes_idempotently():
    factory = FakeCamera.factory()
    with open_source(0, capture_factory=factory, retry_delay=0.0) as cam:
        assert cam.is_live and cam.name == "camera 0" and cam.fps == 30.0
        frames = [cam.read() for _ in range(3)]
        assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
        cam.close()
        cam.close()
    assert factory.cameras[0].released
    assert cam.read() is None          # closed: no more frames, no error


def test_digit_string_means_camera():
    factory = FakeCamera.factory()
    cam = open_source("1", capture_factory=factory)
    assert isinstance(cam, CameraSource)
    assert cam.index == 1 and factory.cameras[0].index == 1
    cam.close()


def test_camera_that_does_not_exist():
    with pytest.raises(SourceError, match=r"camera 7: cannot open"):
        CameraSource(7, capture_factory=FakeCamera.factory(opens=False))


def test_real_camera_index_that_does_not_exist():
    """The real OpenCV path: index 57 exists on no test machine."""
    with pytest.raises(SourceError, match="camera 57"):
        open_source(57)


def test_camera_that_opens_but_returns_no_frames():
    cam = fast_camera(no_frames=True)
    with pytest.raises(SourceError, match="opens but returns no frames"):
        cam.read()
    cam.close()


def test_camera_unplugged_after_n_frames():
    cam = fast_camera(fail_after=5)
    for _ in range(5):
        assert cam.read() is not None
    with pytest.raises(SourceError, match="stopped giving frames after 5 frames"):
        cam.read()
    with pytest.raises(SourceError, match="after 5 frames"):   # stays broken
        cam.read()
    cam.close()


def test_camera_survives_a_few_dropped_frames():
    """A single failed read is not an unplugged camera."""
    fake = FakeCamera()
    reads = iter([True, False, False, True, True])
    real_read = fake.read
    fake.read = lambda: real_read() if next(reads) else (False, None)
    cam = CameraSource(0, capture_factory=lambda i: fake, retry_delay=0.0)
    assert cam.read() is not None
    assert cam.read() is not None      # two failures, then a frame
    assert cam.frames_read == 2
    cam.close()


def test_stalled_camera_raises_instead_of_hanging():
    cam = CameraSource(0, capture_factory=FakeCamera.factory(stall_after=2),
                       stall_timeout=0.3, retry_delay=0.0)
    cam.read()
    cam.read()
    with pytest.raises(SourceError, match=r"stalled, no frame for 0.3 s"):
        cam.read()
    cam.CLOSE_WAIT = 0.1
    cam.close()                        # the read is still blocked: close must not hang


def test_list_cameras_probes_quietly():
    assert list_cameras(3, capture_factory=FakeCamera.factory()) == [0, 1, 2]
    assert list_cameras(3, capture_factory=FakeCamera.factory(no_frames=True)) == []
    assert list_cameras(2, capture_factory=FakeCamera.factory(opens=False)) == []
    real = list_cameras(2)                       # the real probe, whatever is plugged in
    assert real == sorted(set(real)) and set(real) <= {0, 1}


def test_camera_read_runs_off_the_calling_thread():
    seen = []
    fake = FakeCamera()
    real_read = fake.read

    def read():
        seen.append(threading.current_thread().name)
        return real_read()

    fake.read = read
    cam = CameraSource(3, capture_factory=lambda i: fake)
    cam.read()
    cam.close()
    assert seen and seen[0] != threading.current_thread().name


# --------------------------------------------------------------------- videos

def test_video_plays_to_its_end(clip):
    with open_source(clip) as src:
        assert isinstance(src, VideoSource) and not src.is_live
        assert src.fps == pytest.approx(30.0) and src.frame_count == 45
        frames = list(src)
        assert len(frames) == 45 and frames[0].shape == (480, 640, 3)
        assert src.read() is None


def test_truncated_video_says_so(clip, tmp_path):
    data = clip.read_bytes()
    bad = tmp_path / "cut.avi"
    bad.write_bytes(data[: len(data) // 2])
    src = open_source(bad)
    got = 0
    with pytest.raises(SourceError, match=r"cut.avi: the video breaks off after \d+ of 45"):
        while src.read() is not None:
            got += 1
    assert 10 < got < 30                # the frames before the cut were delivered
    src.close()


@pytest.mark.parametrize("name, content", [
    # fixed bytes: now and then FFmpeg finds a stream in fresh random ones (a flaky run)
    ("noise.avi", random.Random(2013).randbytes(20000)),
    ("notes.mp4", b"this is a text file, not a video\n" * 20),
    ("report.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" * 20),
    ("archive.zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + random.Random(2014).randbytes(2000)),
])
def test_not_media(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=f"{name}: not a video or image"):
        open_source(path)


def test_empty_file(tmp_path):
    for name in ("empty.avi", "empty.png"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(SourceError, match=f"{name}: the file is empty"):
            open_source(tmp_path / name)


def test_missing_path(tmp_path):
    with pytest.raises(SourceError, match="nothere.mp4: no such file"):
        open_source(tmp_path / "nothere.mp4")


def test_corrupt_image(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(2015).randbytes(3000))
    with pytest.raises(SourceError, match="broken.jpg: not an image"):
        open_source(path)


# --------------------------------------------------------------------- images

def _write(path, img):
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    buf.tofile(str(path))
    return path


@pytest.mark.parametrize("kind", ["gray", "alpha", "16bit", "tiny", "huge"])
def test_image_kinds_become_bgr8(tmp_path, kind):
    face = synthetic.drawn_face(200)
    if kind == "gray":
        img, suffix = face, ".png"
    elif kind == "alpha":
        img = cv2.cvtColor(face, cv2.COLOR_GRAY2BGRA)
        img[:, :100, 3] = 0                       # left half transparent
        suffix = ".png"
    elif kind == "16bit":
        img, suffix = face.astype(np.uint16) * 257, ".png"
    elif kind == "tiny":
        img, suffix = cv2.resize(face, (10, 10)), ".bmp"
    else:
        img, suffix = np.full((6000, 8000), 90, np.uint8), ".jpg"
    path = _write(tmp_path / f"{kind}{suffix}", img)
    with open_source(path) as src:
        assert isinstance(src, ImageSource) and src.frame_count == 1
        frame = src.read()
        assert src.read() is None
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[:2] == img.shape[:2]
    if kind == "alpha":
        assert (frame[:, :100] == 255).all()     # transparent -> white
        assert np.array_equal(frame[:, 100:, 0], face[:, 100:])
    if kind in ("gray", "16bit"):
        assert np.array_equal(frame[:, :, 1], face)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    """A phone photo taken upright but stored sideways (EXIF orientation 6)."""
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :10] = 255                              # a white band on the left
    jpeg = cv2.imencode(".jpg", stored)[1].tobytes()
    ifd = (b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01"             # TIFF header, 1 entry
           + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"    # Orientation = 6
           + b"\x00\x00\x00\x00")
    app1 = b"Exif\x00\x00" + ifd
    segment = b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1
    path = tmp_path / "phone.jpg"
    path.write_bytes(jpeg[:2] + segment + jpeg[2:])
    frame = load_image(path)
    assert frame.shape == (60, 40, 3)                 # turned upright
    assert frame[:10].mean() > 200 and frame[-10:].mean() < 50   # the band is now on top


def test_path_with_spaces_and_non_ascii(tmp_path, clip):
    folder = tmp_path / "Gesichter ünd Fotos 表情"
    folder.mkdir()
    img = _write(folder / "ß photo é.png", synthetic.drawn_face(120))
    assert load_image(img).shape == (120, 120, 3)
    video = folder / "vidéo clip ö.avi"
    video.write_bytes(clip.read_bytes())
    with open_source(video) as src:
        assert src.read().shape == (480, 640, 3)
    with open_source(folder) as src:
        assert src.read().shape == (120, 120, 3)


def test_folder_skips_bad_images_and_keeps_order(tmp_path):
    _write(tmp_path / "b.png", np.full((30, 40), 200, np.uint8))
    _write(tmp_path / "a.jpg", np.full((20, 20, 3), 50, np.uint8))
    (tmp_path / "c.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(tmp_path)
    assert isinstance(src, ImageFolderSource) and src.frame_count == 3
    shapes = []
    while (frame := src.read()) is not None:
        shapes.append((src.current_path.name, frame.shape))
    assert shapes == [("a.jpg", (20, 20, 3)), ("b.png", (30, 40, 3))]
    assert [p.name for p, _ in src.skipped] == ["c.png"]
    assert "c.png: not an image" in src.skipped[0][1]


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match="no images in this folder"):
        open_source(tmp_path)


def test_folder_of_only_broken_images(tmp_path):
    (tmp_path / "x.png").write_bytes(b"junk")
    src = open_source(tmp_path)
    with pytest.raises(SourceError, match="none of its 1 images could be read"):
        src.read()
