"""A batch's report.html: an index of its inputs' reports with their headline
figures; and `report FOLDER`, which makes the reports of an output folder or of a
batch again."""

from pathlib import Path

import model.runtime.atomic as atomic
from app.report.build import REPORT, number, relative, write_report
from app.report.data import is_batch, is_output, not_an_output, read_output, read_summary
from app.report.page import chip, document, duration, esc, legend, percent, signed, table
from model.runtime.errors import UserError


def report_command(folder) -> int:
    """`report FOLDER`: rebuild the report of an output folder, or every report of a
    batch and its index; prints the paths written."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise UserError(f"{folder}: no such folder")
    if is_batch(folder):
        for entry in read_summary(folder)["inputs"]:
            sub = entry_folder(folder, entry)
            if is_output(sub):
                print(write_report(sub))
        print(write_index(folder))
    elif is_output(folder):
        print(write_report(folder))
    else:
        raise UserError(not_an_output(folder))
    return 0


def entry_folder(batch: Path, entry: dict) -> Path:
    """An input's folder: as the batch's summary gives it, else by name inside."""
    folder = Path(entry.get("folder", ""))
    return folder if folder.is_dir() else batch / folder.name


def write_index(batch) -> Path:
    """report.html at the top of a batch's output: each input's headline figures and
    a link to its own report."""
    batch = Path(batch)
    summary = read_summary(batch)
    rows = []
    for entry in summary.get("inputs", []):
        rows.append(_index_row(batch, entry))
    body = [f"<h1>{esc(batch.name or batch)}</h1>",
            f'<p class="sub">Emotion reports of {len(rows)} inputs: {summary.get("complete", 0)}'
            f' complete, {summary.get("not_complete", 0)} not</p>', legend(),
            table(["input", "status", "length", "faces", "most often", "mean valence"], rows,
                  numeric=(2, 3, 5))]
    path = batch / REPORT
    atomic.write_text(path, document(f"Reports: {batch.name}", "\n".join(body)))
    return path


def _index_row(batch: Path, entry: dict) -> list:
    folder = entry_folder(batch, entry)
    name = Path(entry.get("input", "")).name or str(folder.name)
    report = folder / REPORT
    link = (f'<a href="{esc(relative(report, batch))}">{esc(name)}</a>' if report.is_file()
            else esc(name) + ' <span class="note">(no report)</span>')
    status = esc(entry.get("status", "")) + (f": {esc(entry['error'])}"
                                             if entry.get("error") else "")
    try:
        out = read_output(folder)
    except UserError:
        return [link, status, "-", "-", "-", "-"]
    s = out.summary
    counts = s.get("face_frames_per_emotion") or {}
    total = sum(counts.values())
    top = max(counts, key=lambda e: counts[e]) if total else None
    valences = [v for r in out.rows if (v := number(r.get("valence"))) is not None]
    length = duration(s.get("duration_s")) if out.is_video else f"{s.get('frames', 0)} pictures"
    return [link, status, esc(length), esc(f"{s.get('tracks', 0)}"),
            chip(top, f"{top} {percent(counts[top] / total)}") if top else "-",
            esc(signed(sum(valences) / len(valences)) if valences else "-")]
