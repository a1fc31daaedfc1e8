"""`process` on many inputs: one output folder per input, every core, resumable.

Each input goes through the same function, `process_one`, in a pool of worker
processes (`--jobs`, each pipeline single-threaded inside), with one job in this
process, or with `--scheduler ADDRESS` on a Dask distributed cluster, through the
`concurrent.futures` executor its client offers: one code path for all three. A
finished input (its summary.json says "complete") is skipped on
the next run; a half-done one is done again; a folder that holds something else
is never overwritten without `--overwrite`. One bad input is reported and skipped,
the batch goes on, and the combined `detections.csv` (the input's name in the
first column) and `summary.json` in `--output` say what happened to each.
"""

import csv
import json
import logging
import multiprocessing
import os
import socket
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import model.runtime.atomic as atomic
from app.commands.options import ProcessOptions
from app.io.results import CSV_COLUMNS
from app.io.sources import VIDEO_SUFFIXES
from model.runtime.errors import MissingExtraError, UserError
from model.runtime.image_files import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


def expand_inputs(specs) -> list[Path]:
    """Files as given; a folder of images is one input, a folder of videos one per video."""
    inputs = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
            images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            inputs.extend(videos if videos and not images else [path])
        else:
            inputs.append(path)
    unique = list(dict.fromkeys(inputs))
    if not unique:
        raise UserError("no inputs")
    return unique


def output_folders(inputs, output: Path) -> dict:
    """input -> its own folder under `output`, named after it (numbered if names clash)."""
    folders, used = {}, set()
    for path in inputs:
        name = path.stem if path.is_file() else path.name or "input"
        candidate, n = name, 1
        while candidate in used:
            n += 1
            candidate = f"{name}_{n}"
        used.add(candidate)
        folders[path] = output / candidate
    return folders


def state_of(folder: Path) -> str:
    """"new", "complete" (skip), "partial" (redo) or "foreign" (not ours: keep)."""
    if not folder.exists() or not any(folder.iterdir()):
        return "new"
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "partial" if (folder / "detections.csv").exists() else "foreign"
    return "complete" if summary.get("status") == "complete" else "partial"


@dataclass(frozen=True)
class BatchJob:
    """One input of a batch and where its results go; picklable (worker processes,
    Dask workers)."""

    input: Path
    folder: Path
    options: ProcessOptions = ProcessOptions()


def process_one(job: BatchJob) -> dict:
    """Process one input into its folder (in a worker process or this one); returns
    {"input", "folder", "status", "summary" or "error", "seconds"}. Never raises for
    a bad input: the batch goes on."""
    from app.commands.process import process_input

    start = time.perf_counter()
    out: dict[str, object] = {"input": str(job.input), "folder": str(job.folder),
           "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        result = process_input(job.input, job.folder, job.options)
        summary = result["summary"]
        out.update(status=summary["status"], summary=summary, error=summary.get("error"))
    except UserError as exc:
        out.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one bad input must not end the batch
        log.exception("processing %s failed", job.input)
        out.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


def _single_threaded():
    """Each worker process uses one core: the pool gives the parallelism."""
    import cv2

    cv2.setNumThreads(1)


def run_batch(specs, output, options: ProcessOptions = ProcessOptions()) -> int:
    """Process every input into `output/<name>/`, then write the combined files."""
    output = Path(output)
    inputs = expand_inputs(specs)
    folders = output_folders(inputs, output)
    output.mkdir(parents=True, exist_ok=True)
    jobs = max(1, options.jobs or os.cpu_count() or 1)
    # each input without its own progress bar, on one core (the pool gives the rest)
    per_input = replace(options, show_progress=False, threads=1)
    done, todo = [], []
    for path, folder in folders.items():
        state = state_of(folder)
        if state == "complete" and not options.overwrite:
            done.append({"input": str(path), "folder": str(folder), "status": "complete",
                         "skipped": "finished before",
                         "summary": json.loads((folder / "summary.json").read_text())})
        elif state == "foreign" and not options.overwrite:
            done.append({"input": str(path), "folder": str(folder), "status": "failed",
                         "error": f"{folder} already holds other files; not overwritten "
                                  "(--overwrite to allow it)"})
        else:
            todo.append(BatchJob(path, folder, per_input))
    log.info("%d inputs: %d to process, %d finished before, %d jobs", len(inputs), len(todo),
             sum(1 for d in done if d.get("skipped")), jobs)
    results = done + _run_jobs(todo, jobs, options.show_progress, options.scheduler)
    summary = write_combined(output, folders, results)
    if options.report:
        from app.report import try_write_report, write_index

        try_write_report(output, write_index)
    failed = [r for r in summary["inputs"] if r["status"] != "complete"]
    for r in failed:
        log.error("%s: %s", r["input"], r.get("error") or r["status"])
    if failed:
        raise UserError(f"{len(failed)} of {len(inputs)} inputs not complete (see "
                        f"{output / 'summary.json'}); the others are done")
    return 0


def _cluster_executor(address: str):
    """A concurrent.futures executor on the Dask cluster at `address` (cluster extra)."""
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtraError("--scheduler needs Dask distributed; install the cluster "
                                "extra: pip install -e '.[cluster]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, ValueError) as exc:     # refused / timed out, or a bad address
        raise UserError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    return client, client.get_executor()


def _run_jobs(todo, jobs: int, show_progress: bool, scheduler=None) -> list[dict]:
    from tqdm import tqdm

    results = []
    frames = 0
    bar = tqdm(total=len(todo), unit="input", disable=not show_progress or None,
               dynamic_ncols=True)
    start = time.perf_counter()

    def finished(result):
        nonlocal frames
        results.append(result)
        frames += (result.get("summary") or {}).get("frames", 0)
        bar.set_postfix(frames_per_s=f"{frames / max(time.perf_counter() - start, 1e-9):.0f}")
        bar.update(1)

    try:
        if scheduler and todo:
            client, executor = _cluster_executor(scheduler)
            try:
                for future in as_completed([executor.submit(process_one, j) for j in todo]):
                    finished(future.result())
            finally:
                client.close()
        elif jobs == 1 or len(todo) <= 1:
            for job in todo:
                finished(process_one(job))
        else:
            # spawn, not fork: a forked copy of this process would inherit the
            # inference runtime's threads and locks mid-state
            with ProcessPoolExecutor(max_workers=min(jobs, len(todo)),
                                     mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_single_threaded) as pool:
                for future in as_completed([pool.submit(process_one, j) for j in todo]):
                    finished(future.result())
    finally:
        bar.close()
    return results


def write_combined(output: Path, folders: dict, results: list[dict]) -> dict:
    """The batch's own detections.csv (every input's rows, its name first) and
    summary.json (per input: status, frames, faces, error; and the totals)."""
    by_input = {r["input"]: r for r in results}
    ordered = [by_input[str(p)] for p in folders if str(p) in by_input]
    with atomic.atomic_path(output / "detections.csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["input", *CSV_COLUMNS])
            for r in ordered:
                part = Path(r["folder"]) / "detections.csv"
                if r["status"] == "failed" or not part.exists():
                    continue
                with open(part, newline="", encoding="utf-8") as src:
                    rows = csv.reader(src)
                    next(rows, None)
                    for row in rows:
                        writer.writerow([Path(r["input"]).name, *row])
    entries = []
    for r in ordered:
        s = r.get("summary") or {}
        entries.append({"input": r["input"], "folder": r["folder"], "status": r["status"],
                        "frames": s.get("frames", 0), "faces": s.get("faces", 0),
                        "error": r.get("error"), "worker": r.get("worker"),
                        **({"skipped": r["skipped"]} if r.get("skipped") else {})})
    summary = {
        "inputs": entries,
        "complete": sum(e["status"] == "complete" for e in entries),
        "not_complete": sum(e["status"] != "complete" for e in entries),
        "frames": sum(e["frames"] for e in entries),
        "faces": sum(e["faces"] for e in entries),
        "outputs": ["detections.csv", "summary.json"],
    }
    atomic.write_json(output / "summary.json", summary)
    return summary
