"""Where the desktop app keeps its data, and which addresses --url accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from backstop.desktop import DesktopError, desktop_data_dir, remote_admin_url, user_data_dir


def test_it_uses_the_xdg_data_folder_on_linux(monkeypatch):
    monkeypatch.setenv("HOME", "/home/olivia")
    assert user_data_dir({}, "linux") == Path("/home/olivia/.local/share/Backstop")
    assert user_data_dir({"XDG_DATA_HOME": "/srv/xdg"}, "linux") == Path("/srv/xdg/Backstop")


def test_it_uses_application_support_on_macos(monkeypatch):
    monkeypatch.setenv("HOME", "/Users/olivia")
    assert user_data_dir({}, "darwin") == Path("/Users/olivia/Library/Application Support/Backstop")


def test_it_uses_local_app_data_on_windows():
    assert user_data_dir({"LOCALAPPDATA": "C:/Users/olivia/AppData/Local"}, "win32") == Path(
        "C:/Users/olivia/AppData/Local/Backstop"
    )


def test_the_option_beats_the_environment_which_beats_the_default(monkeypatch):
    monkeypatch.setenv("HOME", "/home/olivia")
    env = {"BACKSTOP_DATA_DIR": "/srv/backstop"}
    assert desktop_data_dir(Path("/tmp/mine"), env) == Path("/tmp/mine")
    assert desktop_data_dir(None, env) == Path("/srv/backstop")
    assert desktop_data_dir(None, {}) == user_data_dir({})


def test_it_opens_a_remote_admin_at_its_root():
    assert remote_admin_url("https://backstop.example.com") == "https://backstop.example.com/"
    assert remote_admin_url(" https://b.example.com/ ") == "https://b.example.com/"


@pytest.mark.parametrize("bad", ["backstop.example.com", "ftp://example.com", "https://"])
def test_it_refuses_what_is_not_a_web_address(bad):
    with pytest.raises(DesktopError, match="not a web address"):
        remote_admin_url(bad)


def test_serving_never_loads_the_window_toolkit():
    import subprocess
    import sys

    code = (
        "import sys, backstop.cli, backstop.server, backstop.desktop\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('webview', 'PySide6', 'qtpy'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
