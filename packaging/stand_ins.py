"""Stand-ins for libraries the bundle links but the app never calls (Linux; used by
packaging/emotion_detector.spec, with `zig cc` from the build environment).

A wheel's extension links every library its build could use, and the dynamic loader
wants each one present at start-up even if none of its functions is ever called. Three
of them are 40% of the bundle and unused by the app:

- OpenCV's OpenBLAS (40 MB): OpenCV calls LAPACK/BLAS only to solve or decompose
  matrices of 100+ rows (cv2.solve, cv2.SVD, cv2.gemm) and in its DNN module; the
  app's detection, resizing and colour conversion never do;
- FFmpeg's H.265 encoder x265 (21 MB) and AV1 encoder SVT-AV1 (7 MB): the app writes
  H.264 (libx264) and AAC and reads video through OpenCV's decoders.

Each is replaced by a library of the same name that defines the functions the other
bundled binaries import from it; calling one prints which, and why it is missing, and
stops the program; the functions FFmpeg calls while it lists its codecs answer as a
library with no encoder would (ANSWERS). A library is kept whole when another binary
imports a variable or a versioned symbol from it (a stand-in could not mimic those),
or when binutils' `nm` or the compiler is missing.
"""

import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

LEFT_OUT = {
    "libopenblasp": "OpenCV's LAPACK/BLAS for large matrices (OpenBLAS)",
    "libx265": "FFmpeg's H.265 encoder (x265)",
    "libSvtAv1Enc": "FFmpeg's AV1 encoder (SVT-AV1)",
}
FUNCTION_TYPES = {"T", "W", "i"}
# x265_api_get_<build>(bit depth): FFmpeg asks it for each bit depth when it first lists
# its codecs (the libx265 encoder's pixel formats); NULL: no encoder for that depth
ANSWERS = {r"x265_api_get_\d+": "return (void *)0;"}


def _symbols(path, which: str) -> dict[str, str]:
    """{name: type} of the dynamic symbols an ELF file defines or imports
    (`which`: "defined" or "undefined"); an import's name keeps its @VERSION."""
    out = subprocess.run(["nm", "-D", f"--{which}-only", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return {f[-1]: f[-2] for f in map(str.split, out.splitlines()) if len(f) >= 2}


def _left_out(name: str):
    base = re.match(r"(lib[A-Za-z0-9]+?)(?:-r0)?-[0-9a-f]{8}[.\d]*\.so", name)
    return LEFT_OUT.get(base[1]) if base else None


def stand_in(binaries, workdir, log=print):
    """The entries with each library of LEFT_OUT replaced by its stand-in (built in
    `workdir`)."""
    if not sys.platform.startswith("linux"):
        return binaries
    if not shutil.which("nm"):
        log("bundle: no nm here (binutils): every library is kept whole")
        return binaries
    files = [(dest, source) for dest, source, kind in binaries
             if kind != "SYMLINK" and ".so" in PurePosixPath(dest).name]
    imports: dict[str, str] = {}
    for _dest, source in files:
        for symbol, kind in _symbols(source, "undefined").items():
            imports.setdefault(symbol, kind)
    out = []
    for dest, source, kind in binaries:
        name = PurePosixPath(dest).name
        what = _left_out(name) if kind != "SYMLINK" else None
        if what:
            built = _build(name, source, what, imports, Path(workdir), log)
            if built:
                log(f"bundle: {dest} ({Path(source).stat().st_size / 1e6:.0f} MB) "
                    f"replaced by a stand-in ({what}, never called by the app)")
                source = built
        out.append((dest, source, kind))
    return out


def _build(name: str, source, what: str, imports: dict, workdir: Path, log):
    defined = _symbols(source, "defined")
    used = sorted(s for s in defined if s in imports)
    versioned = sorted(s for s in imports if "@" in s and s.split("@")[0] in defined)
    data = [s for s in used if defined[s] not in FUNCTION_TYPES]
    if data or versioned:
        log(f"bundle: {name} stays whole: imported {' '.join(data + versioned)}")
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    c_file = workdir / f"{name}.c"
    c_file.write_text(_c_source(name, what, used))
    built = workdir / name
    try:
        # glibc 2.17: the oldest the wheels inside support (manylinux2014)
        subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target",
                        f"{platform.machine()}-linux-gnu.2.17",
                        "-shared", "-fPIC", "-O2", "-s", f"-Wl,-soname,{name}",
                        "-o", str(built), str(c_file)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log(f"bundle: {name} stays whole: no stand-in built ({exc} {detail.decode()[:300]})")
        return None
    return str(built)


def _c_source(name: str, what: str, symbols: list[str]) -> str:
    lines = [
        "#include <stdio.h>",
        "#include <stdlib.h>",
        f"/* stand-in for {name}: {what}, left out of the standalone app */",
        "static void left_out(const char *function) {",
        '    fprintf(stderr, "emotion-detector: %s was called, but the standalone app '
        f'leaves out {what}; use the Python install for this\\n", function);',
        "    abort();",
        "}",
    ]
    for symbol in symbols:
        answer = next((a for pattern, a in ANSWERS.items() if re.fullmatch(pattern, symbol)),
                      None)
        lines.append(f"void *{symbol}(void) {{ {answer} }}" if answer else
                     f'void {symbol}(void) {{ left_out("{symbol}"); }}')
    return "\n".join(lines) + "\n"
