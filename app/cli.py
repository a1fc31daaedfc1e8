"""Command line: no subcommand opens the app; process, report, bench, train, evaluate,
calibrate.

Every command's heavy imports happen inside its handler, so `--help` is instant
and the window can appear before TensorFlow or the model are loaded. Errors the
user can act on are printed as one line (`--debug` shows the traceback). The
parser, with every default taken from where it is declared, is in app.parser.
"""

import logging
from pathlib import Path

from app.commands.options import BenchOptions, ProcessOptions
from app.core.config import DEFAULTS, PipelineConfig
from app.parser import (
    app_defaults,
    build_parser,
    evaluate_defaults,
    field_defaults,
    picked,
    train_defaults,
)
from model.runtime.errors import UserError

log = logging.getLogger("emotion_detector")


# ------------------------------------------------------------------ handlers

def _run_train(args):
    import contextlib

    cfg_fields = picked(train_defaults(), args)
    cfg_fields["augment"] = _parse_overrides(cfg_fields.get("augment"))
    resume, verbose = args.resume, args.verbose
    data, out = cfg_fields["data"], Path(cfg_fields["out"])

    from model.runtime.tensorflow_setup import native_stderr_to, quiet_tensorflow
    from model.training.data import check_layout

    check_layout(data)  # a wrong --data fails now, not after importing TensorFlow
    out.mkdir(parents=True, exist_ok=True)
    quiet: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if not verbose:  # TensorFlow's start-up and converter chatter goes to a file
        quiet_tensorflow()
        quiet = native_stderr_to(out / "tensorflow.log")
    with quiet:
        from model.training.train import TrainConfig, train

        path = train(TrainConfig(**cfg_fields), resume=resume)
    print(path)
    return 0


def _is_folder_of_videos(spec) -> bool:
    from app.commands.batch import expand_inputs

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
    kwargs = picked(evaluate_defaults(), args)      # data, split, model, confusion, ...
    verbose = args.verbose

    from model.runtime.tensorflow_setup import quiet_tensorflow
    from model.training.evaluate import run_evaluate

    if not verbose:  # TensorFlow is imported only for a .keras model
        quiet_tensorflow()
    run_evaluate(**kwargs)
    return 0


def _run_calibrate(args):
    data, model, labels, votes = args.data, args.model, args.labels, args.votes

    from model.training.evaluate import run_calibrate

    run_calibrate(data, model=model, labels=labels, votes=votes)
    return 0


def _run_process(args):
    inputs, output = args.input, args.output
    config = DEFAULTS.with_changes(**picked(field_defaults(PipelineConfig), args))
    options = ProcessOptions(**picked(field_defaults(ProcessOptions), args), config=config)
    return process_command(inputs, output, options)


def process_command(inputs, output, options: ProcessOptions) -> int:
    """`process`: one input, or a batch (several, a folder of videos, a cluster)."""
    if len(inputs) > 1 or options.scheduler or _is_folder_of_videos(inputs[0]):
        if options.osc or options.serve:
            raise UserError("--osc and --serve send the readings of one input as it is "
                            "processed: give process one video, image or folder of images")
        from app.commands.batch import run_batch

        return run_batch(inputs, output, options)
    from app.commands.process import run_process

    return run_process(inputs[0], output, options)


def _run_report(args):
    folder = args.folder

    from app.report import report_command

    return report_command(folder)


def _run_bench(args):
    options = BenchOptions(**picked(field_defaults(BenchOptions), args))

    from app.commands.bench import run_bench

    return run_bench(options)


def _run_app(args):
    install, uninstall = args.install_desktop_entry, args.uninstall_desktop_entry
    app_options = picked(app_defaults(), args)   # source, snapshots, model, loop, ...
    if install or uninstall:
        from app.io import desktop_entry

        for path in desktop_entry.install() if install else desktop_entry.uninstall():
            print(path)
        return 0
    from app import crash_log
    from app.gui.main import run_app

    # from the desktop's menu there is no terminal for a traceback: a file, and a box
    with crash_log.installed():
        return run_app(**app_options)


COMMANDS = {None: _run_app, "process": _run_process, "report": _run_report,
            "bench": _run_bench, "train": _run_train, "evaluate": _run_evaluate,
            "calibrate": _run_calibrate}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if args.verbose
        else "%(levelname)s: %(message)s",
    )
    try:
        from app.frozen import check_command

        check_command(args.command)
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
