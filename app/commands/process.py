"""`process`: run the pipeline headless on a video, an image or a folder of images.

Writes into the output folder, through `app.io.results.ResultFiles`: the annotated
video (`<name>_annotated.mp4`) or images (`annotated/`), `detections.csv` (one row
per face per frame), `summary.json` and `timeline.png`; then, from those files,
`report.html` (app.report). When the input breaks off or the user presses Ctrl+C, what
was processed so far is still written out - the video finalised, the CSV and
summary complete for those frames, the summary saying why it stopped - and the
command then fails with one line. With `--osc` and `--serve` every frame's readings
also go out live as it is processed (app.io.feeds), closed when it ends.
"""

import contextlib
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from app.commands.options import ProcessOptions
from app.core.draw import draw_detections
from app.core.playback import FrameStep, Playback
from app.core.run_info import describe_run
from app.io.results import ResultFiles
from app.io.sources import FrameSource, SourceError, open_source
from app.report import try_write_report
from model.runtime.errors import UserError

log = logging.getLogger(__name__)


def run_process(input_path, output, options: ProcessOptions = ProcessOptions()) -> int:
    """`process`: annotate one input into `output`; the exit code (0, or 130 on Ctrl+C).

    `options.accurate`: five crops of each face too, through the shipped file for them
    or with a `model` (see model.runtime.classifier.load_classifier).
    `options.baseline`: photos or a clip of the person's neutral face, taken out of
    every reading (app.core.neutral).
    `options.osc`, `options.serve`: send the readings live as well (app.io.feeds); a bad
    address or a port in use fails before anything is read, and the feeds close
    when it ends, however it ends."""
    from app.io.feeds import Feeds

    feeds = Feeds.open(options.osc, options.serve)
    try:
        result = process_input(input_path, output, options, feeds=feeds)
    finally:
        if feeds is not None:
            feeds.close()
    log.info("%s", _summary_line(result["summary"]))
    if result["stopped"] == "interrupted":
        log.error("interrupted after %d frames; the results so far are in %s",
                  result["summary"]["frames"], output)
        return 130
    if result["stopped"]:
        raise UserError(f"{result['stopped']} (results up to there are in {output})")
    return 0


def process_input(input_path, output, options: ProcessOptions = ProcessOptions(),
                  feeds=None) -> dict:
    """Open one input, build its pipeline and process it into `output` (also the
    batch's per-input step); returns process_source's {summary, stopped}. `feeds`
    (app.io.feeds.Feeds): where each frame's readings go live, besides the files."""
    from app.core.pipeline import EmotionPipeline
    from model.runtime.classifier import load_classifier

    source = _open_input(str(input_path))
    with source:
        classifier = load_classifier(options.model, accurate=options.accurate,
                                     threads=options.threads)
        # offline work can afford every network on every frame (see view_for)
        config = options.config.with_changes(in_turn=False) if options.accurate \
            else options.config
        pipe = EmotionPipeline(classifier=classifier, config=config)
        with pipe:
            extra = describe_run(pipe, options.accurate, options.crops)
            if options.baseline is not None:
                from app.core.neutral import measure_baseline

                offset, extra["baseline"] = measure_baseline(options.baseline, pipe,
                                                             options.crops, options.force_baseline)
                pipe.set_neutral_baseline(offset)
            progress = progress_bar(source.frame_count) if options.show_progress else None
            result = process_source(source, pipe, Path(output), progress=progress,
                                    crops=options.crops, annotated=options.annotated,
                                    extra=extra, feeds=feeds)
    if options.report:
        try_write_report(output)
    return result


def _open_input(spec: str) -> FrameSource:
    path = Path(spec).expanduser()
    if not path.exists() and spec.strip().isdigit():
        raise UserError(f"{spec}: process takes a video, an image or a folder of images; "
                         "for a camera open the app (--source)")
    return open_source(path)


def process_source(source: FrameSource, pipe, out_dir: Path, progress=None,
                   crops: bool = False, annotated: bool = True, extra=None,
                   feeds=None) -> dict:
    """Process every frame of `source` into `out_dir`; returns {summary, stopped}.

    `crops`: every picture is one face already cut out; classify it whole.
    `extra`: more fields for the summary (what baseline was used).
    `feeds`: each frame's detections also go there (app.io.feeds.Feeds.frame).

    `stopped` is None when the source ended normally, "interrupted" on Ctrl+C, or
    the one-line reason the source failed. The outputs are written in every case.
    """
    is_video = not getattr(source, "still", False)
    files = ResultFiles(out_dir, source.name, source.fps, video=is_video,
                        audio_from=getattr(source, "path", None) if is_video else None,
                        annotated=annotated)
    step = FrameStep(pipe, crops=crops)
    stopped = None
    start = time.perf_counter()
    try:
        for frame in Playback(source=source):          # flat out, every frame
            detections = _add_frame(files, step, source, frame, annotated)
            if feeds is not None:
                feeds.frame(frame.time, frame.number, source.name, detections)
            if progress:
                progress.update(1)
    except KeyboardInterrupt:
        stopped = "interrupted"
    except SourceError as exc:
        stopped = str(exc)
    except OSError as exc:                  # e.g. disk full while writing
        stopped = f"cannot write the results: {exc}"
    except BaseException:
        files.abort()
        raise
    with _no_interrupts():
        if progress:
            progress.close()
        summary = files.close(_input_name(source), time.perf_counter() - start, stopped,
                              getattr(source, "skipped", []), extra)
    if "hint" in summary:
        log.warning("%s", summary["hint"])
    return {"summary": summary, "stopped": stopped}


def _add_frame(files: ResultFiles, step: FrameStep, source, frame, annotated: bool):
    """One frame through the pipeline into every output; its detections. A frame
    with no time is a still picture: nothing is tracked from one to the next."""
    still = frame.time is None
    detections = step.detect(frame.image, photo=still, timestamp=frame.time or 0.0)
    if not detections and still and looks_like_crop(frame.image):
        files.stats.crop_like += 1
    picture = draw_detections(frame.image, detections) if annotated else None
    with _interrupts_deferred():    # a frame goes into every output or none
        files.add(picture, detections, frame.time, _image_path(source) if still else None)
    return detections


def _summary_line(summary: dict) -> str:
    p = summary["processing"]
    return (f"{summary['frames']} frames, {summary['faces']} faces, "
            f"{summary['tracks']} tracks; {p['fps']} frames/s"
            + ("; read with the person's baseline" if "baseline" in summary else ""))


def looks_like_crop(frame) -> bool:
    """A picture the size and shape of a face crop (48-200 px, about square)."""
    h, w = frame.shape[:2]
    return 40 <= min(h, w) and max(h, w) <= 256 and 0.75 <= w / h <= 1.33


def _image_path(source) -> Path:
    return getattr(source, "current_path", None) or Path(source.name)


def _input_name(source) -> str:
    return str(getattr(source, "path", getattr(source, "folder", source.name)))


@contextlib.contextmanager
def _no_interrupts():
    """Hold Ctrl+C off while the outputs are finalised (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold a Ctrl+C until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


# ------------------------------------------------------------------- progress

def progress_bar(total: int | None, stream=None):
    """A tqdm bar of frames on stderr (off when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total if total and total > 0 else None, unit="frame",
                file=stream or sys.stderr, disable=None if stream is None else False,
                dynamic_ncols=True, mininterval=0.2)
