"""The admin in a native window: ``backstop desktop``.

Locally, the same server as ``backstop serve`` runs in a thread of this process on a free
loopback port, and the window opens already signed in through a one-time login token. With
``--url`` the window shows a Backstop running elsewhere and nothing runs here. Closing the window
(or SIGTERM/SIGINT) stops the server and its jobs before the process exits.

The window is the system's own web view wherever there is one: WebKitGTK on Linux (through
PyGObject), WKWebView on macOS, WebView2 on Windows. Qt's web engine is the fallback on Linux
when WebKitGTK is missing and the ``desktop-qt`` extra is installed. pywebview, GTK and Qt are
imported only here, inside functions, so ``backstop serve`` never loads them.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backstop.settings import ConfigError, Settings

log = logging.getLogger("backstop.desktop")

APP_NAME = "Backstop"
WINDOW_SIZE = (1240, 840)
MIN_WINDOW_SIZE = (820, 560)
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 30.0

# Reload on F5 and Ctrl/Cmd+R, as in a browser. Installed on every page load: a new document
# starts without it. Run through the engine, so the admin's strict CSP does not apply.
_SHORTCUTS_JS = """
if (!window.__backstopShortcuts) {
  window.__backstopShortcuts = true;
  document.addEventListener('keydown', function (e) {
    if (e.key === 'F5' || ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 'r')) {
      e.preventDefault();
      location.reload();
    }
  });
}
"""
_DESCRIBE_PAGE_JS = (
    "JSON.stringify({title: document.title, href: location.href, "
    "heading: (document.querySelector('h1') || {}).textContent || ''})"
)


class DesktopError(Exception):
    """The window cannot be opened; the message says why and what to do."""


def user_data_dir(environ: dict[str, str] | None = None, platform: str | None = None) -> Path:
    """Where a desktop app keeps its data on this platform (what ~/.local/share is on Linux)."""
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    home = Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if platform.startswith("win"):
        base = env.get("LOCALAPPDATA") or env.get("APPDATA") or str(home / "AppData" / "Local")
        return Path(base) / APP_NAME
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / APP_NAME


def desktop_data_dir(option: Path | None, environ: dict[str, str] | None = None) -> Path:
    """--data-dir wins, then BACKSTOP_DATA_DIR, then the platform's user data folder."""
    env = os.environ if environ is None else environ
    if option is not None:
        return option.expanduser()
    if env.get("BACKSTOP_DATA_DIR", "").strip():
        return Path(env["BACKSTOP_DATA_DIR"].strip()).expanduser()
    return user_data_dir(env)


def remote_admin_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DesktopError(
            f"--url {url!r} is not a web address; give the address of your Backstop, such as "
            "https://backstop.example.com."
        )
    return url.strip().rstrip("/") + "/"


class LocalServer:
    """``backstop serve`` in a thread, on a loopback socket that is listening before it starts.

    Connections wait in the socket's backlog until uvicorn accepts them, so the window can start
    loading while the server is still importing and starting: the two start-ups overlap.
    """

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        port = self.sock.getsockname()[1]
        self.settings = settings.with_overrides(host="127.0.0.1", port=port)
        self.url = f"http://127.0.0.1:{port}"
        self.error: BaseException | None = None
        self._server: Any = None
        self._stopping = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="backstop-server", daemon=True)

    def _run(self) -> None:
        try:
            from backstop.server import build_server

            # The socket is already ours, so no other program can take the port in between.
            server = build_server(self.settings, check_port=False)
            with self._lock:
                if self._stopping:
                    return
                self._server = server
            server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by wait_started() / stop()
            log.exception("the local server failed")
            self.error = exc

    def start(self) -> None:
        self.thread.start()

    def wait_started(self, timeout: float = SERVER_START_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while not (self._server is not None and self._server.started):
            if not self.thread.is_alive() or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self, timeout: float = SERVER_STOP_TIMEOUT) -> bool:
        """Ask the server to finish (it stops the jobs on the way out); True if it did in time."""
        with self._lock:
            self._stopping = True
            if self._server is not None:
                self._server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        return not self.thread.is_alive() and self.error is None


def issue_desktop_login(settings: Settings, admin_email: str | None) -> str | None:
    """A one-time login token for the chosen (or first) admin; None before anyone has set up."""
    from backstop.db import opened
    from backstop.workspaces.admins import Admin, find_admin_by_email
    from backstop.workspaces.login_tokens import issue_login_token

    with opened(settings.db_path) as db:
        if admin_email:
            admin = find_admin_by_email(db, admin_email)
            if admin is None:
                raise DesktopError(f"No admin has the email {admin_email}; leave out --admin or fix it.")
        else:
            row = db.execute("SELECT id, email FROM admins ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            admin = Admin(row["id"], row["email"])
        return issue_login_token(db, admin)


def open_folder(path: Path) -> None:
    """Show a folder in the platform's file manager."""
    if sys.platform.startswith("win"):
        os.startfile(path)  # noqa: S606 - a folder we own, opened on the user's request
        return
    env = dict(os.environ)
    if getattr(sys, "frozen", False):
        # PyInstaller points the library path at the bundle; the file manager needs the system's.
        original = env.pop("LD_LIBRARY_PATH_ORIG", None)
        env.pop("LD_LIBRARY_PATH", None)
        if original:
            env["LD_LIBRARY_PATH"] = original
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    try:
        subprocess.Popen([opener, str(path)], env=env, start_new_session=True)
    except OSError as exc:
        log.warning("cannot open %s with %s: %s", path, opener, exc)


# What the GTK window needs from the system, by GObject introspection namespace, and the Debian
# and Ubuntu packages that provide it (packaging/linux/debian-depends says the same).
GTK_TYPELIBS = (("Gtk", "3.0"), ("Gdk", "3.0"), ("WebKit2", "4.1"), ("Soup", "3.0"))
DEBIAN_PACKAGES = "gir1.2-webkit2-4.1 gir1.2-gtk-3.0 libwebkit2gtk-4.1-0"


def _missing_gtk_part() -> str | None:
    """None when the GTK window can open; otherwise what is missing, in a few words."""
    try:
        import gi
    except ImportError:
        return "PyGObject (the Python module gi)"
    for namespace, version in GTK_TYPELIBS:
        try:
            gi.require_version(namespace, version)
        except ValueError:
            return f"the {namespace} {version} introspection data"
    return None


def _qt_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("PySide6", "qtpy"))


def choose_gui(requested: str | None = None, platform: str | None = None) -> str | None:
    """The pywebview backend for this computer: "gtk" or "qt" on Linux, None (the system web
    view pywebview picks: Cocoa on macOS, WebView2 on Windows) elsewhere. A missing piece is a
    DesktopError that says which system packages or extra to install."""
    platform = platform or sys.platform
    if platform == "darwin" or platform.startswith("win"):
        return None
    if requested == "qt":
        if not _qt_installed():
            raise DesktopError(
                "The Qt window needs PySide6; install it with pip install 'backstop[desktop-qt]', "
                "or leave out --gui qt to use the system's WebKitGTK."
            )
        return "qt"
    missing = _missing_gtk_part()
    if missing is None:
        return "gtk"
    if requested is None and _qt_installed():
        log.warning("WebKitGTK is not usable (%s is missing): using Qt's web engine instead", missing)
        return "qt"
    if missing.startswith("PyGObject"):
        how = (
            "install the desktop extra, pip install 'backstop[desktop]' (on Debian or Ubuntu it "
            "builds against libgirepository1.0-dev and libcairo2-dev), or use the packaged app"
        )
    else:
        how = f"on Debian or Ubuntu: sudo apt install {DEBIAN_PACKAGES}; on Fedora: sudo dnf install webkit2gtk4.1"
    raise DesktopError(
        f"The desktop window uses the system's WebKitGTK web view, and {missing} is not installed; {how}."
    )


def _prepare_gtk_environment() -> None:
    # WebKitGTK hands frames between its processes as DMA-BUFs, which needs a GPU render node;
    # without one (virtual machines, Xvfb, remote X) the window stays blank. WebKitGTK's own
    # switch makes it use shared memory instead.
    if "WEBKIT_DISABLE_DMABUF_RENDERER" not in os.environ and not any(Path("/dev/dri").glob("renderD*")):
        log.info("no GPU render node: the web view draws through shared memory")
        os.environ["WEBKIT_DISABLE_DMABUF_RENDERER"] = "1"


def _prepare_qt_environment() -> None:
    # Chromium refuses to start as root with its sandbox on; a desktop app run as root is rare
    # but should still open (containers, kiosks), so say so and go on.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "QTWEBENGINE_DISABLE_SANDBOX" not in os.environ:
        log.warning("running as root: the web view's sandbox is turned off")
        os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"


@dataclass
class WindowOptions:
    url: str
    data_dir: Path | None = None  # None: remote, no local folder to show
    storage_path: Path | None = None  # None: private profile, nothing kept after closing
    probe: Path | None = None
    # Runs in its own thread once the window exists; returns False to close the window.
    watch: Callable[[], bool] | None = None
    gui: str | None = None  # from choose_gui(): "gtk", "qt", or None for the platform's web view


def run_window(options: WindowOptions) -> None:
    """Open the window and return when it has been closed."""
    gui = options.gui
    if gui == "qt":
        _prepare_qt_environment()
    elif gui == "gtk":
        _prepare_gtk_environment()
    try:
        import webview
        from webview.menu import Menu, MenuAction, MenuSeparator
    except ImportError as exc:
        raise DesktopError(
            f"The desktop window needs pywebview ({exc}); install it with pip install 'backstop[desktop]'."
        )
    from backstop.paths import static_dir

    log.info("opening the window with the %s web view", gui or "system")

    window = webview.create_window(
        APP_NAME,
        options.url,
        width=WINDOW_SIZE[0],
        height=WINDOW_SIZE[1],
        min_size=MIN_WINDOW_SIZE,
        text_select=True,
        zoomable=True,
    )

    def reload() -> None:
        window.run_js("location.reload()")

    items: list[Any] = [MenuAction("Reload", reload)]
    if options.data_dir is not None:
        data_dir = options.data_dir
        items.append(MenuAction("Open data folder", lambda: open_folder(data_dir.resolve())))
    items += [MenuSeparator(), MenuAction("Quit", window.destroy)]

    def on_loaded() -> None:
        window.run_js(_SHORTCUTS_JS)
        if options.probe is not None:
            _write_probe(options.probe, window.run_js(_DESCRIBE_PAGE_JS))

    window.events.loaded += on_loaded

    def on_stop_signal(signum: int, frame: Any) -> None:
        # Closing from another thread: Qt runs it on its own thread, the same path as the close box.
        threading.Thread(target=window.destroy, daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop_signal)

    def watch() -> None:
        if options.watch is not None and not options.watch():
            window.destroy()

    # GTK loads window icons through gdk-pixbuf, which reads SVG only with librsvg's loader.
    icon = static_dir() / "favicon.svg"
    use_icon = icon.is_file() and (gui != "gtk" or _pixbuf_reads_svg())
    webview.start(
        watch,
        gui=gui,
        menu=[Menu("Backstop", items)],
        icon=str(icon) if use_icon else None,
        private_mode=options.storage_path is None,
        storage_path=str(options.storage_path) if options.storage_path else None,
    )


def _pixbuf_reads_svg() -> bool:
    import gi

    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf

    return any("svg" in fmt.get_name() for fmt in GdkPixbuf.Pixbuf.get_formats())


def _write_probe(path: Path, described: Any) -> None:
    """For tests and the benchmark: one JSON line per page the window finished loading."""
    page = json.loads(described) if isinstance(described, str) else dict(described or {})
    with path.open("a") as fh:
        fh.write(json.dumps({"at": time.time(), **page}) + "\n")


def run_local(
    settings: Settings, *, admin_email: str | None = None, probe: Path | None = None, gui: str | None = None
) -> bool:
    """Serve ``settings.data_dir`` on loopback and show it in a window; True if it stopped cleanly."""
    from backstop.checks import check_data_dir
    from backstop.db import migrate
    from backstop.server import configure_logging

    configure_logging(settings.log_level)
    gui = choose_gui(gui)  # before anything starts: a missing web view is a message, not a hang
    try:
        check_data_dir(settings.data_dir)
        migrate(settings.db_path)
    except ConfigError as exc:
        raise DesktopError(str(exc))
    server = LocalServer(settings)
    token = issue_desktop_login(server.settings, admin_email)
    server.start()
    log.info("Backstop is starting at %s with data in %s", server.url, settings.data_dir.resolve())
    try:
        run_window(
            WindowOptions(
                url=f"{server.url}/desktop-login/{token}" if token else f"{server.url}/",
                data_dir=settings.data_dir,
                probe=probe,
                watch=server.wait_started,
                gui=gui,
            )
        )
    finally:
        log.info("window closed; stopping the server and jobs")
        stopped = server.stop()
    if server.error is not None:
        raise DesktopError(f"The local server stopped with an error: {server.error}")
    if not stopped:
        log.error("the server did not stop within %.0f s", SERVER_STOP_TIMEOUT)
    return stopped


def run_remote(url: str, *, data_dir: Path, probe: Path | None = None, gui: str | None = None) -> None:
    """Show another Backstop's admin. Its sign-in is kept in the data folder between launches."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    target = remote_admin_url(url)
    gui = choose_gui(gui)
    storage = data_dir / "window-profile"
    try:
        storage.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DesktopError(
            f"Cannot create {storage} ({exc.strerror}); pass --data-dir with a writable folder."
        )
    run_window(WindowOptions(url=target, storage_path=storage, probe=probe, gui=gui))
