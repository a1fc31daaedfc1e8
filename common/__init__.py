"""What both layers (`model` and `app`) use and neither owns: the error type the
user sees, and files written whole (temp file, then rename). Imports nothing else
of the project."""
