"""The pipeline's settings with their defaults, each written once (`PipelineConfig`).

The command line (`process`, `bench`, the app), the window and the settings it
stores between runs all build a `PipelineConfig` from these defaults, and the
pipeline takes one; the command line takes its options' defaults (and the
"(default: X)" of its help) from these fields, as it does from the commands' own
(app.commands.options). Nothing else repeats a default.
"""

from dataclasses import dataclass, replace
from typing import Any

from app.core.crop import FER_MARGIN

MIN_FACE_FLOOR = 24  # the Haar cascade's window: no face smaller than this is found


@dataclass(frozen=True)
class PipelineConfig:
    smoothing: bool = True        # average each face's probabilities over time
    sensitivity: float = 0.5      # face detection: 0 strict (few false faces) .. 1 lenient
    min_face: int = 48            # smallest face looked for, in pixels
    tau: float = 3.0              # smoothing of the bars shown, seconds (app.core.track)
    fast_tau: float = 0.1         # the fast average that notices a change of expression
    jump: float = 0.25            # its lead that moves the bars to the new expression ...
    confirm: float = 0.25         # ... once held this long (s)
    sure: float = 0.5             # a lead this large moves them at once
    label_margin: float = 0.05    # the slow average's lead that changes the label
    rescan_interval: int = 15     # frames between full-frame scans while faces are known
    max_scan_side: int = 640      # a full scan runs on the frame downscaled to this side
    margin: float = FER_MARGIN    # crop margin per side, as FER-2013's faces were cut
    hold: float = 0.35            # seconds a lost face keeps its box and label (0: off)
    tilt: bool = True             # look for tilted heads near a known face
    in_turn: bool = True          # smoothed stream: one network and view (face or mirror) a frame

    # Any: each field has its own type, which replace() leaves to the dataclass
    def with_changes(self, **changes: Any) -> "PipelineConfig":
        """A copy with some fields changed (unknown names are a TypeError)."""
        return replace(self, **changes).checked()

    def checked(self) -> "PipelineConfig":
        """The same settings, clamped to what the pipeline can use."""
        return replace(self, sensitivity=min(1.0, max(0.0, float(self.sensitivity))),
                       min_face=max(MIN_FACE_FLOOR, int(self.min_face)),
                       smoothing=bool(self.smoothing))


DEFAULTS = PipelineConfig()
