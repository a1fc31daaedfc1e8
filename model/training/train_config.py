"""`train`'s settings: one dataclass with its defaults, written once.

Apart from model/training/train.py, which imports TensorFlow, so that the command line can
build `train --help` from these defaults in an instant.
"""

from dataclasses import dataclass

# Where the commands look for FER-2013 when --data is not given (beside the checkout).
DEFAULT_DATA = "../shared/datasets/fer2013"
# What a face's label is: FER-2013's one label, or the FER+ crowd's votes
# (model.training.votes); train, evaluate, calibrate and the scripts offer these.
LABEL_SOURCES = ("fer2013", "ferplus")
# What a teacher reads (TrainConfig.teacher_on): the clean training faces once, or every
# augmented batch as the student sees it.
TEACHER_ON = ("clean", "augmented")


@dataclass
class TrainConfig:
    data: str
    out: str = "runs/train"
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    warmup_epochs: int = 2
    seed: int = 1
    quantize: bool = True
    # network stages (filters, convs) for build_model; None = network.STAGES.
    # Tests pass a tiny one. Defaulted, so a state.json written without it resumes.
    stages: list | None = None
    # overrides of model.training.augment.AugmentConfig fields, e.g. {"noise": 0} for an
    # ablation; None = the full recipe. Defaulted for the same reason as stages.
    augment: dict | None = None
    # distillation: a teacher model file (.tflite/.keras/.json ensemble) whose
    # probabilities, sharpened or softened by temperature, make up teacher_weight
    # of each target; label smoothing is then off (the teacher does that job).
    teacher: str | None = None
    teacher_weight: float = 0.7
    temperature: float = 2.0
    # what the teacher reads: the "clean" training faces once (cached), or every
    # "augmented" batch as the student sees it (face and mirror; consistent targets,
    # about a third slower)
    teacher_on: str = "clean"
    # a network to start from instead of random weights (same shape of input/output):
    # a .keras checkpoint, or a .tflite of model.training.network (its float weights rebuilt)
    init: str | None = None
    # widen every stage of the init network this many times (model.training.warm_start.widen)
    widen: float = 1.0
    # keep this share of every layer's channels of the init network (warm_start.slim)
    slim: float = 1.0
    # then give stage i of the init network channels[i] filters (warm_start.rechannel:
    # slimmed or widened per stage); None keeps them
    channels: list | None = None
    # 2: the first convolution strides instead of the first pool (build_model's);
    # None: as the init network has it, 1 for a new one
    stem_stride: int | None = None
    # the first stage works on the face's 2x2 pixel blocks (build_model's space_to_depth;
    # with init: its first stage goes, warm_start.space_to_depth); an init network that
    # has them keeps them
    space_to_depth: bool = False
    # momentum of an exponential moving average of the weights (0 = off): PublicTest
    # is scored, and checkpoints are saved, with the averaged weights (so --resume
    # goes on from the average)
    ema: float = 0.0
    # what the targets are: "fer2013" (each face's one label) or "ferplus" (the crowd's
    # vote distribution, model.training.votes; PublicTest is then scored against it too)
    labels: str = "fer2013"
    # the FER+ votes file; None = ferplus_votes.csv in the data-set folder
    votes: str | None = None
    # faces without votes: "drop" them or keep them with their FER-2013 "label"
    unvoted: str = "drop"
    # with labels="ferplus": this share of each target is the FER-2013 label (one-hot)
    label_weight: float = 0.0
