#!/usr/bin/env bash
# Build the standalone app (no Python needed to run it) with PyInstaller, on Linux
# or macOS, from a clone, with only python3 (3.10+) and the package index:
#
#   bash scripts/build_bundle.sh
#
# makes its own build environment (build/bundle-venv, kept for the next build),
# installs packaging/bundle-requirements.txt and the project into it, runs
# packaging/emotion_detector.spec and writes
#   dist/EmotionDetector-<version>-linux-x86_64.tar.gz   (one folder EmotionDetector/)
#   dist/EmotionDetector-<version>-macos-arm64.tar.gz    (EmotionDetector.app) on macOS
# PYTHON=python3.11 picks the interpreter. docs/bundle.md says more.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/build/bundle-venv"
WORK="$ROOT/build/pyinstaller"
DIST="$ROOT/dist"
log() { printf 'build_bundle [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"build_bundle: {sys.executable} is Python {sys.version.split()[0]}; 3.10 or newer is needed")
PY
VERSION="$(sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' app/__init__.py)"
case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) PLATFORM=linux-x86_64 ;;
    Linux-aarch64) PLATFORM=linux-aarch64 ;;
    Darwin-arm64) PLATFORM=macos-arm64 ;;
    *) echo "build_bundle: no bundle for $(uname -s) $(uname -m)" >&2; exit 2 ;;
esac
start=$SECONDS

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
if [[ ! -x "$VENV/bin/python" ]]; then
    log "making the build environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
log "installing packaging/bundle-requirements.txt and the project"
"$VENV/bin/python" -m pip install --quiet -r packaging/bundle-requirements.txt
# the project as a regular install, so the shipped model is the package model.assets
"$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$ROOT"
# a TensorFlow or full OpenCV left in the environment would be bundled or shadow the
# headless one: the bundle is built from exactly the requirements file
for unwanted in tensorflow tensorflow-cpu opencv-python; do
    if "$VENV/bin/python" -m pip show --quiet "$unwanted" >/dev/null 2>&1; then
        echo "build_bundle: $unwanted is installed in $VENV; remove that folder and rerun" >&2
        exit 1
    fi
done

log "running PyInstaller (packaging/emotion_detector.spec)"
rm -rf "$DIST/EmotionDetector" "$DIST/EmotionDetector.app"
# run from build/: the clone's app/ and model/ must not shadow the installed project
(cd "$ROOT/build" && "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/emotion_detector.spec")

ARCHIVE="$DIST/EmotionDetector-$VERSION-$PLATFORM.tar.gz"
folder=EmotionDetector
[[ "$PLATFORM" == macos-* ]] && folder=EmotionDetector.app
log "packing $ARCHIVE"
# gzip -9: 0.6 MB smaller than tar -z's default level (-6), for about 20 s more
tar -C "$DIST" -cf - "$folder" | gzip -9 > "$ARCHIVE.part"
mv "$ARCHIVE.part" "$ARCHIVE"
log "done in $((SECONDS - start)) s: $ARCHIVE ($(du -sh "$ARCHIVE" | cut -f1) packed," \
    "$(du -sh "$DIST/$folder" | cut -f1) unpacked)"
