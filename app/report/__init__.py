"""report.html: a page for people, made from an output folder's files.

`process` (one input, or each input of a batch and the batch's index) and every
recording of the window write one; `python main.py report FOLDER` makes it again
from the files (detections.csv, summary.json, markers.csv and the video). It opens
offline in any browser: the style and the pictures are inside the file. matplotlib
draws the plots and is imported only when a report is made.
"""

from app.report.build import REPORT, try_write_report, write_report
from app.report.index import report_command, write_index

__all__ = ["REPORT", "report_command", "try_write_report", "write_index", "write_report"]
