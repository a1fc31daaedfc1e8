"""What differs between Linux, Windows and macOS: the camera API, the Linux-only menu entry."""

import cv2
import pytest

from app.io.cameras import camera_backend
from app.io.desktop_entry import linux_only
from model.runtime.errors import UserError


@pytest.mark.parametrize("platform, backend", [
    ("linux", cv2.CAP_V4L2), ("win32", cv2.CAP_MSMF), ("darwin", cv2.CAP_AVFOUNDATION),
    ("freebsd14", cv2.CAP_ANY)])
def test_each_system_opens_cameras_with_its_own_capture_api(platform, backend):
    assert camera_backend(platform) == backend


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_the_menu_entry_is_refused_off_linux_with_what_to_do_instead(platform):
    with pytest.raises(UserError, match="for Linux desktops.*emotion-detector"):
        linux_only(platform)

