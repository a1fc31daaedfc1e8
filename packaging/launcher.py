"""The standalone app's entry point (PyInstaller runs this file): the installed
`emotion-detector` command (app.cli:main), with crash logs from the start."""

import multiprocessing
import sys

if __name__ == "__main__":
    # `process -j N` starts its workers by running this executable again
    multiprocessing.freeze_support()
    from app import crash_log

    crash_log.install()   # before the rest is imported: a broken bundle logs that too
    from app.cli import main

    sys.exit(main())
