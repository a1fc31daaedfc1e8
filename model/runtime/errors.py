"""The project's one error type for problems a user can act on, and its kinds.

The CLI turns any `UserError` into one line (`--debug` shows the traceback); the
window shows its message. This module imports nothing else of the project, so
every layer (model, pipeline, sources, GUI) can raise these without a cycle.
"""


class UserError(RuntimeError):
    """A problem the user can fix (bad input, missing file); shown as one line."""


class ModelError(UserError):
    """The model file is missing, unreadable or not an emotion model."""


class DataError(UserError):
    """A data set folder or file is missing, malformed or empty."""


class MissingExtraError(UserError):
    """An optional dependency (an extra such as `train`) is not installed."""
