"""The PyQt5 desktop app: the only part of the project that imports Qt."""
