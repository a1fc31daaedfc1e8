"""The image files OpenCV reads: the data loaders, image sources and file dialogs
all use this one list."""

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff",
                            ".webp", ".pgm", ".ppm", ".pbm", ".pnm", ".jp2", ".exr", ".hdr"})
