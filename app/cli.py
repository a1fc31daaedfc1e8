"""Command line: no subcommand opens the app; process, bench, train, evaluate, calibrate.

Every command's heavy imports happen inside its handler, so `--help` is instant
and the window can appear before TensorFlow or the model are loaded. Errors the
user can act on are printed as one line (`--debug` shows the traceback).
"""

import argparse
import logging
from pathlib import Path

from app.config import DEFAULTS, MIN_FACE_FLOOR
from common.errors import UserError
from model.data import DEFAULT_DATA

log = logging.getLogger("emotion_detector")

ACCURATE_HELP = ("for offline work: read faces with the shipped five-network ensemble "
                 "(assets/emotion_accurate.json) instead of the one network, more accurate "
                 "at about four times the classifying time; with --model, average five "
                 "44-pixel crops of each face instead (they help networks trained on labels "
                 "alone; figures in assets/MODEL_CARD.md)")
PROCESS_ACCURATE_HELP = ACCURATE_HELP[:-1] + (
    "; in a video every frame is read by every network on the face and its mirror "
    "image, instead of one of them in turn)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-detector",
        description="Real-time facial-emotion detector. Without a command it opens the "
                    "desktop app on the source used last time (camera 0 the first time), "
                    "or on --source.",
        epilog="Run 'emotion-detector COMMAND --help' for the options of a command.",
    )
    _add_common(parser, top=True)
    parser.add_argument("--source", default=None,
                        help="what the app shows: a camera index (0, 1, ...), a video file, "
                             "an image or a folder of images (default: the last source used, "
                             "else camera 0)")
    parser.add_argument("--snapshots", metavar="DIR", default=None,
                        help="folder for snapshots (default: ~/Pictures/EmotionDetector)")
    parser.add_argument("--record", metavar="DIR", default=None,
                        help="record each source from its start until it stops or the app "
                             "quits, into a new folder per session inside DIR: the annotated "
                             "video, detections.csv, summary.json and the timeline (the "
                             "Record button records into the snapshot folder)")
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="emotion model file (.tflite, .keras or a .json ensemble; "
                             "default: the shipped one)")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add Emotion Detector to your desktop's application menu (a "
                             ".desktop file and an icon under ~/.local/share), then exit")
    parser.add_argument("--uninstall-desktop-entry", action="store_true",
                        help="remove that menu entry and icon again, then exit")
    # Hidden, for long-run measurements and the window test: play a video file
    # in a loop, close the window after SECONDS, log memory and rates every SECONDS.
    parser.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--exit-after", type=float, default=0.0, metavar="SECONDS",
                        help=argparse.SUPPRESS)
    parser.add_argument("--stats-every", type=float, default=0.0, metavar="SECONDS",
                        help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("process", help="annotate videos, images or folders of images",
                       description="Run the pipeline headless on video files, images or "
                                   "folders of images and write the annotated media, "
                                   "detections.csv, summary.json and a timeline plot. With "
                                   "several inputs, each gets its own folder in --output, "
                                   "next to a combined detections.csv and summary.json; "
                                   "inputs finished before are skipped.")
    _add_common(p)
    p.add_argument("input", nargs="+",
                   help="video file, image file or folder of images (a folder of videos "
                        "is one input per video); several for a batch")
    p.add_argument("--output", "-o", metavar="DIR", required=True,
                   help="folder for the results (created if missing)")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="inputs processed at once, each in its own process on one core "
                        "(default: the number of cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the inputs on a Dask distributed cluster, e.g. "
                        "tcp://host:8786 (needs the cluster extra; the output folder must "
                        "be on storage the workers share)")
    p.add_argument("--overwrite", action="store_true",
                   help="process inputs again even when finished before, and write into "
                        "folders that hold other files")
    p.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS,
                   help="emotion model file (default: the shipped one)")
    p.add_argument("--no-smoothing", action="store_true",
                   help="report each frame's raw prediction, without smoothing over time")
    p.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p.add_argument("--accurate", action="store_true", help=PROCESS_ACCURATE_HELP)
    p.add_argument("--no-video", action="store_true",
                   help="write only detections.csv, summary.json and the chart, not the "
                        "annotated video or images (the fast path)")
    p.add_argument("--crops", action="store_true",
                   help="the pictures are face crops already (as in CK+ or your own "
                        "cut-out faces): classify each whole picture as one face, "
                        "without looking for faces in it")
    p.add_argument("--baseline", metavar="PATH", default=None,
                   help="a photo, folder of photos or clip of the person's neutral face: "
                        "how it leans (sad, stern, tired) is taken out of every reading of "
                        "the input, which should show that person (the largest face of "
                        "each picture is used; the CSV and summary say so)")
    p.add_argument("--sensitivity", type=float, default=DEFAULTS.sensitivity, metavar="0..1",
                   help="face detection: higher finds more faces, and more false ones "
                        f"(default: {DEFAULTS.sensitivity})")
    p.add_argument("--min-face", type=int, default=DEFAULTS.min_face, metavar="PX",
                   help=f"smallest face to look for, in pixels (default: {DEFAULTS.min_face}; "
                        f"never below {MIN_FACE_FLOOR}, nor below 1/27 of the longer side "
                        "of the frame)")

    p = sub.add_parser("bench", help="measure speed, start-up time and label steadiness",
                       description="Time every pipeline stage on a video (a generated 640x480 "
                                   "clip with a face by default) and print JSON.")
    _add_common(p)
    p.add_argument("--video", metavar="PATH", default=None,
                   help="video to measure on (default: a generated clip)")
    p.add_argument("--frames", type=int, default=300, help="frames to time (default: 300)")
    p.add_argument("--hard-seconds", type=float, default=10.0, metavar="S",
                   help="length of the hard generated clip (tilts, a hand, a turn, dim "
                        "light, a second face); 0 skips it (default: 10)")
    p.add_argument("--batch", type=int, default=0, metavar="N",
                   help="also time `process` on N generated clips with one job and with "
                        "every core, and a re-run of the finished batch (default: off)")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="also process N frames and report memory (RSS) at start and end")
    p.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS,
                   help="emotion model file (default: the shipped one)")

    p = sub.add_parser("train", help="train the emotion CNN on FER-2013",
                       description="Train on FER-2013 (Kaggle folder layout or fer2013.csv). "
                                   "Saves a checkpoint every epoch; --resume continues a "
                                   "stopped run. Needs TensorFlow (pip install '.[train]').")
    _add_common(p)
    p.add_argument("--data", default=DEFAULT_DATA,
                   help=f"FER-2013 folder or fer2013.csv (default: {DEFAULT_DATA})")
    p.add_argument("--epochs", type=int, default=40, help="total epochs (default: 40)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    p.add_argument("--out", default="runs/train", metavar="DIR",
                   help="folder for checkpoints, history, curves and the exported model "
                        "(default: runs/train)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-quantize", action="store_true",
                   help="export float32 instead of int8 weights")
    p.add_argument("--augment", metavar="NAME=VALUE[,...]", default=None,
                   help="change the augmentation recipe for an ablation, e.g. "
                        "'noise=0,jpeg_p=0' (names: the fields of "
                        "model.augment.AugmentConfig; default: the full recipe)")
    p.add_argument("--teacher", metavar="MODEL", default=None,
                   help="distil: learn from this model's probabilities too (a .tflite, "
                        ".keras or .json ensemble, run once over the training faces with "
                        "multi-crop averaging; default: the labels only)")
    p.add_argument("--teacher-weight", type=float, default=0.7, metavar="W",
                   help="share of the teacher in each target, the rest is the label "
                        "(default: 0.7)")
    p.add_argument("--temperature", type=float, default=2.0, metavar="T",
                   help="soften the teacher's probabilities, p^(1/T) (default: 2)")
    p.add_argument("--init", metavar="MODEL", default=None,
                   help="start from this trained network instead of random weights: a .keras "
                        "checkpoint, or a .tflite of this project's network such as "
                        "assets/emotion_cnn.tflite (its float weights are rebuilt)")
    p.add_argument("--widen", type=float, default=1.0, metavar="F",
                   help="give every stage of the --init network F times the channels before "
                        "training (e.g. 1.5); it starts out computing what it did "
                        "(default: 1, as it is)")
    p.add_argument("--ema", type=float, default=0.0, metavar="M",
                   help="keep an exponential moving average of the weights with momentum M "
                        "per batch (e.g. 0.99) and score and save that (default: 0, off)")

    p = sub.add_parser("evaluate", help="measure a model's accuracy on FER-2013 or your own faces",
                       description="Print accuracy, macro F1, per-class precision/recall/F1, "
                                   "the confusion matrix and the time per face as JSON. The "
                                   "data is FER-2013 or any folder of labelled face crops "
                                   "(<emotion>/*.jpg or *.png, any size; classes may be "
                                   "missing).")
    _add_common(p)
    p.add_argument("--data", default=DEFAULT_DATA,
                   help="FER-2013 folder or fer2013.csv, or a folder of <emotion>/ "
                        f"subfolders of face crops (default: {DEFAULT_DATA})")
    p.add_argument("--split", choices=("PublicTest", "PrivateTest"), default="PrivateTest",
                   help="which FER-2013 test split (default: PrivateTest; ignored for a "
                        "folder of crops)")
    # SUPPRESS: `--model PATH evaluate` (the top parser's --model) is not reset to None
    p.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS,
                   help="model file, .tflite, .keras or a .json ensemble "
                        "(default: the shipped one)")
    p.add_argument("--confusion", metavar="PNG", default=None,
                   help="also write the confusion matrix as a PNG image here "
                        "(default: not written)")
    p.add_argument("--no-flip", action="store_true",
                   help="do not average with the mirrored face (test-time flip)")
    p.add_argument("--accurate", action="store_true", help=ACCURATE_HELP)
    p.add_argument("--robustness", action="store_true",
                   help="also score the faces under camera-like perturbations (zoom, shift, "
                        "tilt, blur, light, noise, JPEG, small faces; fixed seed) and "
                        "report each drop and the mean drop")
    p.add_argument("--reliability", metavar="PNG", default=None,
                   help="also draw the reliability diagram (accuracy against the confidence "
                        "shown, per 10%% bin, with the diagonal) as a PNG image here; needs "
                        "matplotlib (the train extra)")

    p = sub.add_parser("calibrate", help="make a model's percentages mean what they say",
                       description="Fit a temperature on FER-2013 PublicTest so that the "
                                   "confidence shown matches how often the label is right "
                                   "(no label changes), and the model's mean reading of "
                                   "neutral faces (the reference for calibrating a person's "
                                   "own neutral face); write both into the model file "
                                   "(.tflite or .json ensemble). `train` does this itself.")
    _add_common(p)
    p.add_argument("--data", default=DEFAULT_DATA,
                   help=f"FER-2013 folder or fer2013.csv (default: {DEFAULT_DATA})")
    p.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS,
                   help="model file to calibrate in place (default: the shipped one)")
    return parser


def _add_common(parser, top=False):
    # A subcommand's copies default to SUPPRESS, so that its False does not
    # overwrite a `-v` given before the subcommand; the top parser sets the default.
    default = False if top else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log more detail")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback when something fails")


def _run_train(args):
    import contextlib

    from model.data import check_layout
    from model.tensorflow_setup import native_stderr_to, quiet_tensorflow

    check_layout(args.data)  # a wrong --data fails now, not after importing TensorFlow
    Path(args.out).mkdir(parents=True, exist_ok=True)
    quiet = contextlib.nullcontext()
    if not args.verbose:  # TensorFlow's start-up and converter chatter goes to a file
        quiet_tensorflow()
        quiet = native_stderr_to(Path(args.out) / "tensorflow.log")
    with quiet:
        from model.train import TrainConfig, train

        cfg = TrainConfig(data=args.data, out=args.out, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          quantize=not args.no_quantize,
                          augment=_parse_overrides(args.augment), teacher=args.teacher,
                          teacher_weight=args.teacher_weight, temperature=args.temperature,
                          init=args.init, widen=args.widen, ema=args.ema)
        path = train(cfg, resume=args.resume)
    print(path)
    return 0


def _is_folder_of_videos(spec) -> bool:
    from app.batch import expand_inputs

    path = Path(spec).expanduser()
    return path.is_dir() and expand_inputs([path]) != [path]


def _parse_overrides(text):
    """'a=1,b=0.5' -> {"a": 1.0, "b": 0.5}; None -> None."""
    if not text:
        return None
    out = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise UserError(f"--augment: expected NAME=NUMBER, got {item!r}")
    return out


def _run_evaluate(args):
    from model.evaluate import run_evaluate
    from model.tensorflow_setup import quiet_tensorflow

    if not args.verbose:  # TensorFlow is imported only for a .keras model
        quiet_tensorflow()

    run_evaluate(args.data, split=args.split, model=args.model,
                 confusion=args.confusion, flip=not args.no_flip, accurate=args.accurate,
                 robustness=args.robustness, reliability=args.reliability)
    return 0


def _run_calibrate(args):
    from model.evaluate import run_calibrate

    run_calibrate(args.data, model=args.model)
    return 0


def _run_process(args):
    from app.process import run_process

    config = DEFAULTS.with_changes(smoothing=not args.no_smoothing,
                                   sensitivity=args.sensitivity, min_face=args.min_face)
    if len(args.input) > 1 or args.scheduler or _is_folder_of_videos(args.input[0]):
        from app.batch import run_batch

        return run_batch(args.input, args.output, model=args.model, config=config,
                         jobs=args.jobs, overwrite=args.overwrite,
                         show_progress=not args.no_progress, crops=args.crops,
                         accurate=args.accurate, scheduler=args.scheduler,
                         pictures=not args.no_video, baseline=args.baseline)
    return run_process(args.input[0], args.output, model=args.model, config=config,
                       show_progress=not args.no_progress, crops=args.crops,
                       accurate=args.accurate, pictures=not args.no_video,
                       baseline=args.baseline)


def _run_bench(args):
    from app.bench import run_bench

    return run_bench(frames=args.frames, soak_frames=args.soak, video=args.video,
                     model=args.model, hard_seconds=args.hard_seconds,
                     batch_clips=args.batch)


def _run_app(args):
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        from app import desktop_entry

        if args.install_desktop_entry:
            for path in desktop_entry.install():
                print(path)
        else:
            for path in desktop_entry.uninstall():
                print(path)
        return 0
    from app.gui.main import run_app

    return run_app(source=args.source, snapshots=args.snapshots, model=args.model,
                   loop=args.loop, exit_after=args.exit_after, stats_every=args.stats_every,
                   record=args.record)


COMMANDS = {None: _run_app, "process": _run_process, "bench": _run_bench,
            "train": _run_train, "evaluate": _run_evaluate, "calibrate": _run_calibrate}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if args.verbose
        else "%(levelname)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except (UserError, FileNotFoundError, PermissionError) as exc:
        if args.debug:
            raise
        log.error("%s", exc)
        return 2
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        if args.debug:
            raise
        log.error("%s: %s (run with --debug for details)", type(exc).__name__, exc)
        return 1
