"""The command line's parser, built from the defaults where they are declared.

Every default is written once, where it is declared, and the parser takes it
from there (with the "(default: X)" of the help): the settings dataclasses
(app.core.config's PipelineConfig, app.commands.options' ProcessOptions and
BenchOptions, model.training.train's TrainConfig, kept apart from training's
TensorFlow) and the functions the other
commands call (app.gui.main.run_app, model.training.evaluate.run_evaluate: their
signatures). An option's dest is its field's name, and each handler (app.cli) builds
its dataclass from the parsed options at its top.
"""

import argparse
import dataclasses
import inspect

from app import __version__
from app.commands.options import BenchOptions, ProcessOptions
from app.core.config import MIN_FACE_FLOOR, PipelineConfig
from model.training.train_config import DEFAULT_DATA, LABEL_SOURCES, TEACHER_ON

ACCURATE_HELP = ("for offline work: read each face on five 44-pixel crops besides the whole "
                 "face and their mirror images (the large network through "
                 "assets/emotion_accurate.json, calibrated for it; with --model, that "
                 "model), a little more accurate at about eight times the classifying time "
                 "(figures in assets/MODEL_CARD.md)")
PROCESS_ACCURATE_HELP = ACCURATE_HELP[:-1] + (
    "; in a video every frame is read on all of those views, instead of one view in "
    "turn)")


# ------------------------------------------------------------------ defaults

def field_defaults(cls) -> dict:
    """A dataclass's fields that have a default: {name: default}."""
    return {f.name: f.default for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}


def signature_defaults(func) -> dict:
    """A function's parameters: {name: default}, dataclasses.MISSING for one without."""
    return {name: dataclasses.MISSING if p.default is inspect.Parameter.empty else p.default
            for name, p in inspect.signature(func).parameters.items()}


def train_defaults() -> dict:
    from model.training.train_config import TrainConfig

    return {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def evaluate_defaults() -> dict:
    from model.training.evaluate import run_evaluate

    return signature_defaults(run_evaluate)


def calibrate_defaults() -> dict:
    from model.training.evaluate import run_calibrate

    return signature_defaults(run_calibrate)


def app_defaults() -> dict:
    from app.gui.main import run_app  # no Qt at import: that comes in run_app

    return signature_defaults(run_app)


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _option(parser, flags, defaults: dict, name: str, help: str, shown=None, **kwargs):
    """An option stored in `name`, defaulting to `defaults[name]`; its help ends
    with "(default: X)": `shown`, else the value (nothing for a None without `shown`)."""
    default = defaults[name]
    if shown is not None or default is not None:
        help = f"{help} (default: {shown if shown is not None else _show(default)})"
    parser.add_argument(*flags, dest=name, default=default, help=help, **kwargs)


def _switch(parser, flag: str, defaults: dict, name: str, help: str):
    """A flag that turns `name` from its default (`defaults[name]`) to the other value."""
    default = bool(defaults[name])
    parser.add_argument(flag, dest=name, default=default, help=help,
                        action="store_false" if default else "store_true")


def picked(names, args) -> dict:
    """The parsed options among `names` (the fields of a dataclass, a function's
    parameters)."""
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


# -------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-detector",
        description="Real-time facial-emotion detector. Without a command it opens the "
                    "desktop app on the source used last time (camera 0 the first time), "
                    "or on --source.",
        epilog="Run 'emotion-detector COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common(parser, top=True)
    _add_app_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_process, _add_report, _add_bench, _add_train, _add_evaluate,
                _add_calibrate):
        add(sub)
    return parser


def _add_common(parser, top=False):
    # A subcommand's copies default to SUPPRESS, so that its False does not
    # overwrite a `-v` given before the subcommand; the top parser sets the default.
    default = False if top else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log more detail")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full traceback when something fails")


def _add_app_options(parser):
    """The app's options (no command): app.gui.main.run_app's parameters."""
    d = app_defaults()
    _option(parser, ["--source"], d, "source",
            "what the app shows: a camera index (0, 1, ...), a video file, an image or a "
            "folder of images", shown="the last source used, else camera 0")
    _option(parser, ["--snapshots"], d, "snapshots", "folder for snapshots",
            shown="~/Pictures/EmotionDetector", metavar="DIR")
    _option(parser, ["--record"], d, "record",
            "record each source from its start until it stops or the app quits, into a "
            "new folder per session inside DIR: the annotated video, detections.csv, "
            "summary.json and the timeline (the Record button records into the snapshot "
            "folder)", metavar="DIR")
    _option(parser, ["--model"], d, "model",
            "emotion model file (.tflite, .keras or a .json ensemble)",
            shown="the shipped one", metavar="PATH")
    _add_feed_options(parser, d)
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add Emotion Detector to your desktop's application menu (a "
                             ".desktop file and an icon under ~/.local/share), then exit")
    parser.add_argument("--uninstall-desktop-entry", action="store_true",
                        help="remove that menu entry and icon again, then exit")
    # Hidden, for long-run measurements and the window test: play a video file
    # in a loop, close the window after SECONDS, log memory and rates every SECONDS.
    parser.add_argument("--loop", action="store_true", default=d["loop"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--exit-after", type=float, default=d["exit_after"],
                        metavar="SECONDS", help=argparse.SUPPRESS)
    parser.add_argument("--stats-every", type=float, default=d["stats_every"],
                        metavar="SECONDS", help=argparse.SUPPRESS)


def _add_feed_options(parser, d: dict):
    """The live readings to other programs (app.io.feeds): --osc and --serve."""
    _option(parser, ["--osc"], d, "osc",
            "send every frame's readings as OSC messages over UDP to HOST:PORT: "
            "/emotion/frame (time, frame, faces) and /emotion/face per face (time, track, "
            "label, confidence, the seven probabilities, x, y, w, h, valence)",
            metavar="HOST:PORT")
    _option(parser, ["--serve"], d, "serve",
            "run a WebSocket server on PORT (host 127.0.0.1 unless given) that pushes "
            "every frame's readings as JSON to every connected client; any host but "
            "127.0.0.1 lets others on the network read them", metavar="[HOST:]PORT")


def _model_option(parser, help="emotion model file (default: the shipped one)"):
    # SUPPRESS: `--model PATH COMMAND` (the top parser's --model) is not reset to None
    parser.add_argument("--model", metavar="PATH", default=argparse.SUPPRESS, help=help)


def _add_process(sub):
    p = sub.add_parser("process", help="annotate videos, images or folders of images",
                       description="Run the pipeline headless on video files, images or "
                                   "folders of images and write the annotated media, "
                                   "detections.csv, summary.json and a timeline plot. With "
                                   "several inputs, each gets its own folder in --output, "
                                   "next to a combined detections.csv and summary.json; "
                                   "inputs finished before are skipped.")
    _add_common(p)
    d = field_defaults(ProcessOptions)
    p.add_argument("input", nargs="+",
                   help="video file, image file or folder of images (a folder of videos "
                        "is one input per video); several for a batch")
    p.add_argument("--output", "-o", metavar="DIR", required=True,
                   help="folder for the results (created if missing)")
    _option(p, ["--jobs", "-j"], d, "jobs",
            "inputs processed at once, each in its own process on one core",
            shown="the number of cores", type=int, metavar="N")
    _option(p, ["--scheduler"], d, "scheduler",
            "run the inputs on a Dask distributed cluster, e.g. tcp://host:8786 (needs the "
            "cluster extra; the output folder must be on storage the workers share)",
            metavar="ADDRESS")
    _switch(p, "--overwrite", d, "overwrite",
            "process inputs again even when finished before, and write into folders that "
            "hold other files")
    _model_option(p)
    _switch(p, "--no-smoothing", field_defaults(PipelineConfig), "smoothing",
            "report each frame's raw prediction, without smoothing over time")
    _switch(p, "--no-progress", d, "show_progress", "do not show a progress bar")
    _switch(p, "--accurate", d, "accurate", PROCESS_ACCURATE_HELP)
    _switch(p, "--no-video", d, "annotated",
            "write only detections.csv, summary.json and the chart, not the annotated "
            "video or images (the fast path)")
    _switch(p, "--no-report", d, "report",
            "do not write report.html (the page for people; `report` makes it later)")
    _switch(p, "--crops", d, "crops",
            "the pictures are face crops already (as in CK+ or your own cut-out faces): "
            "classify each whole picture as one face, without looking for faces in it")
    _option(p, ["--baseline"], d, "baseline",
            "a photo, folder of photos or clip of the person's neutral face: how it leans "
            "(sad, stern, tired) is taken out of every reading of the input, which should "
            "show that person (the largest face of each picture is used; the CSV and "
            "summary say so)", metavar="PATH")
    _switch(p, "--force-baseline", d, "force_baseline",
            "use the --baseline even when it does not look like a face at rest (a smile, "
            "a face that talks, two faces), which is otherwise refused")
    _add_feed_options(p, d)
    _add_detection_options(p)


def _add_detection_options(parser):
    """The pipeline's settings a command line can change (PipelineConfig's fields)."""
    d = field_defaults(PipelineConfig)
    _option(parser, ["--sensitivity"], d, "sensitivity",
            "face detection: higher finds more faces, and more false ones",
            type=float, metavar="0..1")
    _option(parser, ["--min-face"], d, "min_face", "smallest face to look for, in pixels",
            shown=f"{d['min_face']}; never below {MIN_FACE_FLOOR}, nor below 1/27 of the "
                  "longer side of the frame", type=int, metavar="PX")


def _add_report(sub):
    p = sub.add_parser("report", help="make report.html again from an output folder's files",
                       description="Write report.html, the page for people that process and "
                                   "recordings write, again from an output folder's "
                                   "detections.csv, summary.json, markers.csv and video: for "
                                   "folders written before reports, or after markers.csv was "
                                   "edited. A batch's folder gets every input's report and "
                                   "the index.")
    _add_common(p)
    p.add_argument("folder", help="an output folder of process or of a recording, or a "
                                  "batch's --output folder")


def _add_bench(sub):
    p = sub.add_parser("bench", help="measure speed, start-up time and label steadiness",
                       description="Time every pipeline stage on a video (a generated 640x480 "
                                   "clip with a face by default), the pipeline with 1 and "
                                   "with 5 faces in view (per frame and per face), and the "
                                   "network alone (its multiply-adds counted from the model "
                                   "file, one pass on one thread); print JSON.")
    _add_common(p)
    d = field_defaults(BenchOptions)
    _option(p, ["--video"], d, "video", "video to measure on", shown="a generated clip",
            metavar="PATH")
    _option(p, ["--frames"], d, "frames", "frames to time", type=int)
    _option(p, ["--hard-seconds"], d, "hard_seconds",
            "length of the hard generated clip (tilts, a hand, a turn, dim light, a second "
            "face); 0 skips it", type=float, metavar="S")
    _option(p, ["--batch"], d, "batch_clips",
            "also time `process` on N generated clips with one job and with every core, "
            "and a re-run of the finished batch", shown="0, off", type=int, metavar="N")
    _option(p, ["--soak"], d, "soak_frames",
            "also process N frames and report memory (RSS) at start and end",
            shown="0, off", type=int, metavar="N")
    _model_option(p)


def _add_train(sub):
    p = sub.add_parser("train", help="train the emotion CNN on FER-2013",
                       description="Train on FER-2013 (Kaggle folder layout or fer2013.csv). "
                                   "Saves a checkpoint every epoch; --resume continues a "
                                   "stopped run. Needs TensorFlow (pip install '.[train]').")
    _add_common(p)
    d = train_defaults()
    _option(p, ["--data"], {"data": DEFAULT_DATA}, "data", "FER-2013 folder or fer2013.csv")
    _option(p, ["--epochs"], d, "epochs", "total epochs", type=int)
    _option(p, ["--batch-size"], d, "batch_size", "batch size", type=int)
    _option(p, ["--lr"], d, "lr", "peak learning rate", type=float)
    _option(p, ["--seed"], d, "seed", "random seed", type=int)
    _option(p, ["--out"], d, "out", "folder for checkpoints, history, curves and the "
            "exported model", metavar="DIR")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    _switch(p, "--no-quantize", d, "quantize", "export float32 instead of int8 weights")
    _option(p, ["--augment"], d, "augment",
            "change the augmentation recipe for an ablation, e.g. 'noise=0,jpeg_p=0' "
            "(names: the fields of model.training.augment.AugmentConfig)", shown="the full recipe",
            metavar="NAME=VALUE[,...]")
    _add_train_label_options(p, d)
    _add_train_warm_options(p, d)


def _votes_option(p, d):
    _option(p, ["--votes"], d, "votes", "the FER+ votes file for --labels ferplus",
            shown="ferplus_votes.csv in the --data folder", metavar="CSV")


def _add_train_label_options(p, d):
    """What the network learns from (TrainConfig's labels, votes, unvoted, label_weight)."""
    _option(p, ["--labels"], d, "labels",
            "learn FER-2013's one label per face, or the FER+ crowd's ten votes per face "
            "(their distribution over the seven emotions; PublicTest is scored against "
            "them and the percentages calibrated on its majority faces)",
            choices=LABEL_SOURCES)
    _votes_option(p, d)
    _option(p, ["--unvoted"], d, "unvoted",
            "with --labels ferplus: leave out the training faces without votes, or keep "
            "them with their FER-2013 label", choices=("drop", "label"))
    _option(p, ["--label-weight"], d, "label_weight",
            "with --labels ferplus: this share of each target is the FER-2013 label",
            type=float, metavar="W")


def _add_train_warm_options(p, d):
    """Distillation and warm starts (TrainConfig's teacher, teacher_on, init, widen, slim,
    channels, stem_stride, space_to_depth, ema)."""
    _option(p, ["--teacher"], d, "teacher",
            "distil: learn from this model's probabilities too (a .tflite, .keras or .json "
            "ensemble, run once over the training faces with multi-crop averaging)",
            shown="the labels only", metavar="MODEL")
    _option(p, ["--teacher-weight"], d, "teacher_weight",
            "share of the teacher in each target, the rest is the label", type=float,
            metavar="W")
    _option(p, ["--temperature"], d, "temperature",
            "soften the teacher's probabilities, p^(1/T)", type=float, metavar="T")
    _option(p, ["--teacher-on"], d, "teacher_on",
            "what the teacher reads: the clean training faces once, or every augmented "
            "batch as the student sees it (consistent targets; slower)",
            choices=TEACHER_ON)
    _option(p, ["--init"], d, "init",
            "start from this trained network instead of random weights: a .keras "
            "checkpoint, or a .tflite of this project's network such as "
            "assets/emotion_cnn.tflite (its float weights are rebuilt)", metavar="MODEL")
    _option(p, ["--widen"], d, "widen",
            "give every stage of the --init network F times the channels before training "
            "(e.g. 1.5; 1 keeps it as it is); it starts out computing what it did",
            type=float, metavar="F")
    _option(p, ["--slim"], d, "slim",
            "keep this share of every layer's channels of the --init network, those its "
            "batch norm scales most (e.g. 0.5: about a quarter of the multiply-adds)",
            type=float, metavar="F")
    _option(p, ["--channels"], d, "channels",
            "give each stage of the --init network this many channels, e.g. 32,64,64,192 "
            "(fewer: those its batch norm scales most; more: copies that keep its outputs)",
            shown="as the --init network has them", type=_channel_list, metavar="N,N,...")
    _option(p, ["--stem-stride"], d, "stem_stride",
            "2: the first convolution steps two pixels instead of a pool after it (faster "
            "on CPUs; with --init, converts that network)", shown="as the --init network "
            "has it, else 1", type=int, choices=(1, 2))
    _switch(p, "--space-to-depth", d, "space_to_depth",
            "the first stage works on the face's 2x2 pixel blocks as 4 channels, at 24x24 "
            "(faster still on CPUs; with --init, that network's first stage goes and the "
            "next one's first convolution starts afresh)")
    _option(p, ["--ema"], d, "ema",
            "keep an exponential moving average of the weights with momentum M per batch "
            "(e.g. 0.99) and score and save that; 0 is off", type=float, metavar="M")


def _channel_list(text: str) -> list[int]:
    """"32,64,64,192" -> [32, 64, 64, 192]."""
    try:
        numbers = [int(part) for part in text.split(",")]
    except ValueError:
        numbers = []
    if not numbers or any(n < 1 for n in numbers):
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers of 1 or more, "
                                         "one per stage, with commas between")
    return numbers


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="measure a model's accuracy on FER-2013 or your own faces",
                       description="Print accuracy, macro F1, per-class precision/recall/F1, "
                                   "the confusion matrix and the time per face as JSON. The "
                                   "data is FER-2013 or any folder of labelled face crops "
                                   "(<emotion>/*.jpg or *.png, any size; classes may be "
                                   "missing).")
    _add_common(p)
    d = evaluate_defaults()
    _option(p, ["--data"], {"data": DEFAULT_DATA}, "data",
            "FER-2013 folder or fer2013.csv, or a folder of <emotion>/ subfolders of face "
            "crops")
    _option(p, ["--split"], d, "split", "which FER-2013 test split",
            shown=f"{d['split']}; ignored for a folder of crops",
            choices=("PublicTest", "PrivateTest"))
    _model_option(p, "model file, .tflite, .keras or a .json ensemble "
                     "(default: the shipped one)")
    _option(p, ["--confusion"], d, "confusion",
            "also write the confusion matrix as a PNG image here", shown="not written",
            metavar="PNG")
    _option(p, ["--labels"], d, "labels",
            "score against FER-2013's one label per face, or against the FER+ crowd's "
            "majority (more than half of ten votes; those faces only), adding FER-2013's "
            "labels, the faces where both agree and what crowd-neutral faces are read as",
            choices=LABEL_SOURCES)
    _votes_option(p, d)
    _switch(p, "--no-flip", d, "flip",
            "do not average with the mirrored face (test-time flip)")
    _switch(p, "--accurate", d, "accurate", ACCURATE_HELP)
    _switch(p, "--robustness", d, "robustness",
            "also score the faces under camera-like perturbations (zoom, shift, tilt, blur, "
            "light, noise, JPEG, small faces; fixed seed) and report each drop and the "
            "mean drop")
    _option(p, ["--reliability"], d, "reliability",
            "also draw the reliability diagram (accuracy against the confidence shown, per "
            "10%% bin, with the diagonal) as a PNG image here; needs matplotlib (the train "
            "extra)", metavar="PNG")


def _add_calibrate(sub):
    p = sub.add_parser("calibrate", help="make a model's percentages mean what they say",
                       description="Fit a temperature on FER-2013 PublicTest so that the "
                                   "confidence shown matches how often the label is right "
                                   "(no label changes), and the model's mean reading of "
                                   "neutral faces (the reference for calibrating a person's "
                                   "own neutral face); write both into the model file "
                                   "(.tflite or .json ensemble). `train` does this itself.")
    _add_common(p)
    _option(p, ["--data"], {"data": DEFAULT_DATA}, "data", "FER-2013 folder or fer2013.csv")
    _model_option(p, "model file to calibrate in place (default: the shipped one)")
    d = calibrate_defaults()
    _option(p, ["--labels"], d, "labels",
            "fit against FER-2013's labels, or against the FER+ crowd's majority on the "
            "faces that have one (for a model trained with train --labels ferplus)",
            choices=LABEL_SOURCES)
    _votes_option(p, d)
