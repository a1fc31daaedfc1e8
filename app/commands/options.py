"""The commands' options with their defaults, each written once: `process`'
(`ProcessOptions`: also a batch's jobs, its scheduler and the live feeds) and
`bench`'s (`BenchOptions`).

The command line takes their defaults (and the "(default: X)" of its help) from
these fields; the pipeline's own settings are app.core.config's.
"""

from dataclasses import dataclass

from app.core.config import DEFAULTS, PipelineConfig


@dataclass(frozen=True)
class ProcessOptions:
    """How `process` annotates its inputs (one, or a batch: app.commands.batch); picklable, so
    that a batch's jobs carry it to worker processes and cluster workers."""

    model: str | None = None      # emotion model file; None: the shipped one
    config: PipelineConfig = DEFAULTS
    crops: bool = False           # every picture is a face crop: classify it whole
    accurate: bool = False        # five crops of each face too (load_classifier)
    annotated: bool = True        # write the annotated video or images, not only the data
    report: bool = True           # report.html for people (app.report), and a batch's index
    baseline: str | None = None   # photos or a clip of the person's neutral face
    force_baseline: bool = False  # use it even when it does not look like a face at rest
    show_progress: bool = True    # a progress bar on stderr
    threads: int = 2              # the classifier's threads (1 in a batch's workers)
    jobs: int | None = None       # a batch's inputs at once; None: one per core
    overwrite: bool = False       # redo finished inputs, write into folders of other files
    scheduler: str | None = None  # a Dask scheduler's address: the batch runs there
    osc: str | None = None        # HOST:PORT: send each frame's readings there as OSC (UDP)
    serve: str | None = None      # [HOST:]PORT: a WebSocket feed of each frame's readings


@dataclass(frozen=True)
class BenchOptions:
    """What `bench` measures (app.commands.bench.run_bench)."""

    frames: int = 300             # frames to time
    soak_frames: int = 0          # then this many more (looping), memory before and after
    video: str | None = None      # None: a generated clip with a face
    model: str | None = None      # emotion model file; None: the shipped one
    hard_seconds: float = 10.0    # length of the hard generated clip; 0 leaves it out
    batch_clips: int = 0          # also time `process` on this many generated clips
