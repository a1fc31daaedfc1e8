"""The desktop app and the frame pipeline (source -> detect -> crop -> classify -> track -> draw)."""
