"""The report's HTML: one file with its style and pictures inside (data: URIs), that
opens offline in any browser, reads on a phone and prints on A4. Every text taken
from the files goes through `esc` (html.escape)."""

import base64
import html

from app import __version__
from app.report.charts import hex_color
from model.runtime.emotions import EMOTIONS

# nothing may be fetched: pictures are data: URIs, the style is in the page
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
:root { --ink: #1d2125; --soft: #5c6670; --line: #d9dee3; --back: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.5em; margin: 0.2em 0; overflow-wrap: anywhere; }
h2 { font-size: 1.2em; margin: 1.4em 0 0.4em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
.sub, .note, figcaption { color: var(--soft); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; list-style: none; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px;
          vertical-align: -0.1em; margin-right: 4px; }
.bar { display: flex; height: 14px; border-radius: 3px; overflow: hidden;
       background: var(--back); margin: 4px 0; }
.bar span { display: block; height: 100%; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left;
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img.chart { width: 100%; height: auto; display: block; }
.moments { display: flex; flex-wrap: wrap; gap: 10px; }
.moments figure, .photo figure { margin: 0; }
.moments img { height: 150px; width: auto; max-width: 100%; border-radius: 4px; }
.photo img { width: 160px; height: auto; border-radius: 4px; }
.chip { display: inline-block; padding: 0 6px; border-radius: 3px; margin: 1px 2px;
        color: #000; white-space: nowrap; }
section.face { break-inside: avoid; page-break-inside: avoid; }
footer { margin-top: 2em; color: var(--soft); font-size: 0.85em; }
.bar, .swatch, .chip { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@media (max-width: 600px) {
  body { font-size: 14px; } main { padding: 10px; }
  dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: 4px; }
  .moments img { height: 110px; } .photo img { width: 110px; }
}
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 10.5pt; } main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, figure, img { break-inside: avoid; page-break-inside: avoid; }
  .moments img { height: 30mm; }
}
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img(data: bytes, mime: str, alt: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} src="{data_uri(data, mime)}" alt="{esc(alt)}">'


def document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n'
            f'<body>\n<main>\n{body}\n<footer>Made by Emotion Detector {esc(__version__)}. '
            'Everything on this page is inside this one file; nothing was sent anywhere.'
            '</footer>\n</main>\n</body>\n</html>\n')


def clock(t: float | None) -> str:
    """A time in the source as [h:]m:ss.s (what a player's seek bar shows)."""
    if t is None:
        return "-"
    sign, t = ("-" if t < 0 else ""), abs(float(t))
    hours, rest = divmod(t, 3600)
    minutes, seconds = divmod(rest, 60)
    head = f"{int(hours)}:{int(minutes):02d}" if hours else f"{int(minutes)}"
    return f"{sign}{head}:{seconds:04.1f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{clock(seconds)} ({seconds / 60:.1f} min)"


def percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}"


def facts(items) -> str:
    """A definition list of (name, HTML value) pairs; values are HTML already."""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items)
    return f'<dl class="facts">{rows}</dl>'


def legend() -> str:
    items = "".join(f'<li><span class="swatch" style="background:{hex_color(e)}"></span>'
                    f"{esc(e)}</li>" for e in EMOTIONS)
    return f'<ul class="legend" aria-label="emotion colours">{items}</ul>'


def share_bar(shares: dict) -> str:
    spans = "".join(f'<span style="width:{100 * shares[e]:.2f}%;background:{hex_color(e)}" '
                    f'title="{esc(e)} {percent(shares[e])}"></span>'
                    for e in EMOTIONS if shares.get(e))
    return f'<div class="bar" role="img" aria-label="share of each emotion">{spans}</div>'


def share_table(shares: dict) -> str:
    head = "".join(f'<th class="num"><span class="swatch" style="background:{hex_color(e)}">'
                   f"</span>{esc(e)}</th>" for e in EMOTIONS)
    cells = "".join(f'<td class="num">{percent(shares.get(e, 0.0))}</td>' for e in EMOTIONS)
    return f'<div class="scroll"><table><tr>{head}</tr><tr>{cells}</tr></table></div>'


def table(headers, rows, numeric=()) -> str:
    """A table of already-escaped cells; `numeric`: column indices aligned right."""
    def cell(tag, i, v):
        return f'<{tag}{" class=num" if i in numeric else ""}>{v}</{tag}>'

    head = "".join(cell("th", i, esc(h)) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>"
                   for r in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def chip(label: str, text: str) -> str:
    color = hex_color(label) if label in EMOTIONS else "#dddddd"
    return f'<span class="chip" style="background:{color}">{esc(text)}</span>'
