"""Which web view `backstop desktop` opens, and what it says when the system lacks one."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from backstop import desktop
from backstop.cli import main
from backstop.desktop import DesktopError, choose_gui
from tests.packaging.conftest import ROOT


def debian_field(name: str) -> list[str]:
    text = (ROOT / "packaging" / "linux" / "debian-depends").read_text()
    line = next(line for line in text.splitlines() if line.startswith(f"{name}:"))
    return [re.sub(r"\(.*\)", "", item).strip() for item in line.split(":", 1)[1].split(",")]


@pytest.fixture
def system(monkeypatch):
    """Pretend what is installed: state["gtk"] is None when WebKitGTK works, else what's missing."""
    state = {"gtk": None, "qt": False}
    monkeypatch.setattr(desktop, "_missing_gtk_part", lambda: state["gtk"])
    monkeypatch.setattr(desktop, "_qt_installed", lambda: state["qt"])
    return state


def test_on_linux_it_prefers_the_system_webkitgtk_even_with_qt_installed(system):
    system["qt"] = True
    assert choose_gui(None, "linux") == "gtk"
    assert choose_gui("qt", "linux") == "qt"


def test_without_webkitgtk_it_falls_back_to_qt_when_installed(system, caplog):
    system.update(gtk="the WebKit2 4.1 introspection data", qt=True)
    assert choose_gui(None, "linux") == "qt"
    assert "WebKit2 4.1 introspection data is missing" in caplog.text


def test_without_webkitgtk_or_qt_it_names_the_packages_to_install(system):
    system["gtk"] = "the WebKit2 4.1 introspection data"
    with pytest.raises(DesktopError) as raised:
        choose_gui(None, "linux")
    message = str(raised.value)
    assert "WebKit2 4.1 introspection data is not installed" in message
    named = message.split("sudo apt install ", 1)[1].split(";")[0].split()
    assert named and set(named) <= set(debian_field("Depends"))


def test_without_pygobject_it_says_how_to_get_it(system):
    system["gtk"] = "PyGObject (the Python module gi)"
    with pytest.raises(DesktopError, match=r"pip install 'backstop\[desktop\]'"):
        choose_gui("gtk", "linux")


def test_asking_for_qt_without_it_installed_is_refused_with_the_extra_to_install(system):
    with pytest.raises(DesktopError, match=r"backstop\[desktop-qt\]"):
        choose_gui("qt", "linux")


def test_macos_and_windows_use_their_system_web_view(system):
    system["gtk"] = "PyGObject (the Python module gi)"
    assert choose_gui(None, "darwin") is None
    assert choose_gui(None, "win32") is None


def test_the_command_stops_with_that_message_instead_of_a_blank_window(system, tmp_path):
    system["gtk"] = "the Gtk 3.0 introspection data"
    result = CliRunner().invoke(main, ["desktop", "--gui", "gtk", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code != 0
    assert "sudo apt install gir1.2-webkit2-4.1" in result.output
    assert "Traceback" not in result.output


def test_this_machine_has_the_packages_the_list_declares():
    """scripts/bootstrap --dev installs debian-depends; the real window tests rely on it."""
    assert desktop._missing_gtk_part() is None
