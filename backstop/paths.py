"""Where the bundled templates and static files live, installed or frozen by PyInstaller."""

import sys
from pathlib import Path


def ui_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "ui"
    import ui

    return Path(ui.__file__).parent


def templates_dir() -> Path:
    return ui_dir() / "templates"


def static_dir() -> Path:
    return ui_dir() / "static"
