"""Building report.html from an output folder's files (app.report.data), for one
input: a video or camera with a section per face, or photos in a table."""

import datetime as dt
import logging
import os
import time
from pathlib import Path

import numpy as np

import app.report.frames as pictures
import model.runtime.atomic as atomic
from app.io.frame_source import frame_rate
from app.report.data import Output, marker_name, photo_faces, read_output
from app.report.limits import model_paragraph
from app.report.page import (
    chip,
    clock,
    document,
    duration,
    esc,
    facts,
    img,
    legend,
    percent,
    share_bar,
    share_table,
    signed,
    table,
)
from model.runtime.emotions import EMOTIONS

log = logging.getLogger(__name__)

REPORT = "report.html"
DETAILED_FACES = 12       # faces with a timeline and pictures; the rest in one table
MAX_PHOTOS_SHOWN = 300    # photos with a picture in the table; beyond, the names only


def write_report(folder) -> Path:
    """report.html in an output folder, made from its files; returns its path."""
    out = read_output(folder)
    body = _video_body(out) if out.is_video else _photos_body(out)
    path = out.folder / REPORT
    atomic.write_text(path, document(f"Report: {_source_name(out.summary)}", body))
    return path


def try_write_report(folder, write=None) -> Path | None:
    """write_report (or `write`: write_index) for `process`, batches and recordings:
    their other files are written already, so a report that fails is a warning,
    never a lost result."""
    start = time.perf_counter()
    try:
        path = (write or write_report)(folder)
    except Exception as exc:  # noqa: BLE001 - the results stand without their report
        log.warning("the report of %s was not written: %s: %s", folder,
                    type(exc).__name__, exc)
        return None
    log.debug("%s written in %.2f s", path, time.perf_counter() - start)
    return path


# ---------------------------------------------------------------- one input

def _source_name(summary: dict) -> str:
    name = str(summary.get("input") or "unknown source")
    return Path(name).name or name


def _run_facts(out: Output, tracks) -> str:
    s = out.summary
    status = s.get("status", "unknown")
    if s.get("error"):
        status += f": {s['error']}"
    length = (duration(s.get("duration_s")) + f", {s.get('frames', 0)} frames"
              if out.is_video else f"{s.get('frames', 0)} pictures")
    return facts([
        ("Source", esc(s.get("input", "unknown"))),
        ("Length", esc(length)),
        ("Run", esc(_when(out))),
        ("Model", esc(_model(s))),
        ("Settings", esc(_settings(s))),
        ("Neutral baseline", esc(_baseline(s, tracks))),
        ("Faces", esc(f"{_count(s.get('tracks', 0), 'face')} (tracks), "
                      f"{_count(s.get('faces', 0), 'reading')}, in "
                      f"{s.get('frames_with_faces', 0)} of {s.get('frames', 0)} frames"
                      if out.is_video else   # photos: each read on its own, no tracks
                      f"{_count(s.get('faces', 0), 'face')} in "
                      f"{s.get('frames_with_faces', 0)} of {s.get('frames', 0)} pictures")),
        ("Status", esc(status)),
    ])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _when(out: Output) -> str:
    started = out.summary.get("started")
    if started:
        return started.replace("T", " ")
    written = dt.datetime.fromtimestamp((out.folder / "summary.json").stat().st_mtime)
    return f"{written:%Y-%m-%d %H:%M:%S} (when summary.json was written)"


def _model(summary: dict) -> str:
    model = summary.get("model")
    if not model:
        return "not recorded (an output written before reports)"
    text = Path(model["path"]).name if model.get("path") else "none (faces only)"
    if model.get("networks", 1) > 1:
        text += f", {model['networks']} networks averaged"
    if model.get("accurate"):
        text += " (--accurate)"
    return text


def _settings(summary: dict) -> str:
    settings = summary.get("settings")
    if not settings:
        return "not recorded (an output written before reports)"
    names = {"smoothing": "smoothing", "sensitivity": "sensitivity",
             "min_face": "smallest face (px)", "crops": "face crops"}
    return ", ".join(f"{names.get(k, k)} {'on' if v is True else 'off' if v is False else v}"
                     for k, v in settings.items())


def _baseline(summary: dict, tracks) -> str:
    base = summary.get("baseline")
    if base:
        return (f"yes: measured from {base.get('source')} ({base.get('faces')} face(s) read) "
                "and taken out of every face's readings")
    calibrated = [(t.track, t.calibrated_from()) for t in tracks
                  if t.calibrated_from() is not None]
    if calibrated:
        return "yes, calibrated in the window, for " + ", ".join(
            f"face {t} (from {clock(at)})" for t, at in calibrated)
    return "none: every face read as the model reads it"


def _limits(out: Output) -> str:
    return f"<h2>What these readings are</h2><p>{esc(model_paragraph(out.summary))}</p>"


def _video_body(out: Output) -> str:
    from app.report.charts import MAX_POINTS, face_chart, plotting

    tracks = out.tracks()
    span = out.span()
    markers = [(out.marker_time(m), marker_name(m)) for m in out.markers]
    on_axis = [(t, name) for t, name in markers if t is not None]
    video, why = pictures.find_video(out.folder, out.summary)
    detailed = tracks[:DETAILED_FACES]
    moments = {t.track: t.moments() for t in detailed}
    frames = pictures.read_frames(video, [m for ms in moments.values() for m in ms],
                                  out.fps) if video else {}
    parts = [f"<h1>{esc(_source_name(out.summary))}</h1>",
             '<p class="sub">Emotion report</p>', _run_facts(out, tracks), legend()]
    if not tracks:
        parts.append("<h2>Faces</h2><p>No face was found.</p>")
    # a slice per frame, up to MAX_POINTS: finer would leave gaps between frames
    bins = min(MAX_POINTS, max(2, int(round((span[1] - span[0]) * frame_rate(out.fps)))))
    can_plot = plotting()
    for tr in detailed:
        chart = face_chart(tr.times, tr.probs, tr.valence, span, on_axis, bins=bins) \
            if can_plot else None
        parts.append(_face_section(out, tr, chart, moments[tr.track], frames, video, why))
    if len(tracks) > len(detailed):
        parts.append(_brief_faces(out, tracks[len(detailed):]))
    parts.append(_markers_section(markers))
    parts.append(_limits(out))
    return "\n".join(parts)


def _face_section(out, tr, chart: bytes | None, moments, frames, video, why) -> str:
    shares = tr.shares()
    seen = tr.times[np.isfinite(tr.times)]
    when = f" (from {clock(seen.min())} to {clock(seen.max())})" if len(seen) else ""
    head = (f"In view {duration(tr.seconds(out.fps))}{when}; mean valence "
            f"{signed(tr.mean_valence())} (-1 unpleasant .. +1 pleasant)")
    if tr.calibrated_from() is not None:
        head += f"; neutral baseline taken out from {clock(tr.calibrated_from())}"
    return (f'<section class="face" id="face-{tr.track}"><h2>Face {tr.track}</h2>'
            f"<p>{esc(head)}</p>{share_bar(shares)}{share_table(shares)}"
            f"{_chart(chart, tr.track)}"
            "<h3>Moments worth watching again</h3>"
            f"{_moments(out, moments, frames, video, why)}</section>")


def _chart(chart: bytes | None, track: int) -> str:
    if chart is None:
        return ('<p class="note">No plots: they need matplotlib (pip install matplotlib), '
                "which is not installed here.</p>")
    return img(chart, "image/png", f"Emotions and valence of face {track} over time", "chart")


def _moments(out, moments, frames, video, why) -> str:
    if video is None:
        return f'<p class="note">No pictures: {esc(why)}.</p>'
    figures = []
    for m in moments:
        caption = f"{m.emotion} {percent(m.probability)} at {clock(m.time)}"
        image = frames.get((m.frame, m.time))
        picture = img(pictures.face_picture(image, m.box), "image/jpeg",
                      f"face at {clock(m.time)}, {m.emotion}") if image is not None else \
            '<span class="note">(frame not readable)</span>'
        seek = (m.frame / out.fps if video.annotated and out.fps else m.time) or 0.0
        href = esc(f"{relative(video.path, out.folder)}#t={seek:.2f}")
        figures.append(f'<figure><a href="{href}">{picture}</a>'
                       f"<figcaption>{esc(caption)}</figcaption></figure>")
    note = ("" if video.annotated else
            f'<p class="note">Pictures from the source video {esc(video.path)}.</p>')
    return f'<div class="moments">{"".join(figures)}</div>{note}'


def relative(path: Path, folder: Path) -> str:
    """A link from a page in `folder` to `path`."""
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:                    # another drive (Windows)
        return path.resolve().as_uri()


def _brief_faces(out: Output, tracks) -> str:
    rows = []
    for tr in tracks:
        shares = tr.shares()
        top = max(EMOTIONS, key=lambda e: shares[e])
        rows.append([esc(tr.track), esc(duration(tr.seconds(out.fps))),
                     chip(top, f"{top} {percent(shares[top])}"), esc(signed(tr.mean_valence()))])
    return ("<h2>Faces seen briefly</h2>" +
            table(["face", "in view", "most often", "mean valence"], rows, numeric=(1, 3)))


def _markers_section(markers) -> str:
    if not markers:
        return ('<h2>Markers</h2><p class="note">No markers (a recording keeps the ones '
                "added while it ran in markers.csv).</p>")
    rows = [[esc(clock(t)), esc(name)] for t, name in markers]
    return "<h2>Markers</h2>" + table(["time", "marker"], rows)


def _photos_body(out: Output) -> str:
    faces = photo_faces(out.rows)
    s = out.summary
    parts = [f"<h1>{esc(_source_name(s))}</h1>", '<p class="sub">Emotion report</p>',
             _run_facts(out, out.tracks()), legend()]
    totals = {e: 0 for e in EMOTIONS}
    for r in out.rows:
        if r.get("label") in totals:
            totals[r["label"]] += 1
    if out.rows:
        shares = {e: n / len(out.rows) for e, n in totals.items()}
        parts += ["<h2>All faces</h2>", share_bar(shares), share_table(shares)]
    rows = []
    for i, (name, face_rows) in enumerate(faces.items()):
        path = pictures.photo_path(out.folder, s, name) if i < MAX_PHOTOS_SHOWN else None
        data = pictures.photo_picture(path) if path else None
        picture = (img(data, "image/jpeg", name) if data else
                   '<span class="note">(no picture)</span>')
        labels = " ".join(chip(r["label"], f"{r['label']} {percent(number(r['confidence']))}"
                               f" {signed(number(r.get('valence')))}") for r in face_rows)
        rows.append([f'<span class="photo">{picture}</span>', esc(name),
                     esc(len(face_rows)), labels])
    without = max(0, int(s.get("frames", 0)) - len(faces))
    parts.append("<h2>Photos</h2>")
    parts.append(table(["picture", "photo", "faces", "emotion, confidence, valence"], rows,
                       numeric=(2,)) if rows else "<p>No face was found.</p>")
    if without:
        parts.append(f'<p class="note">{without} picture(s) with no face found are not '
                     "listed.</p>")
    parts.append(_markers_section([(out.marker_time(m), marker_name(m))
                                   for m in out.markers]) if out.markers else "")
    parts.append(_limits(out))
    return "\n".join(parts)


def number(text) -> float | None:
    """A CSV field as a number; None when empty or not one."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
