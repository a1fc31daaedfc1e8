"""Errors with messages meant for the user, not a traceback."""


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not an emotion model."""


class DataError(RuntimeError):
    """A data set folder or file is missing, malformed or empty."""
