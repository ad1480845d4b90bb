"""Startup checks, in-process and through the real ``backstop check`` / ``backstop serve``."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from backstop.checks import check_data_dir, check_database, check_port_free, run_startup_checks
from backstop.settings import ConfigError, Settings
from tests.builders import NOT_A_DATABASE
from tests.conftest import VENV_BIN, free_port


def run_cli(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKSTOP_")}
    return subprocess.run(
        [str(VENV_BIN / "backstop"), *args],
        env={**clean, "COLUMNS": "400", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def unwritable_dir(tmp_path: Path) -> Path:
    """An existing folder this user cannot create files in. Root ignores permission bits, so as
    root use a folder of /proc, where nobody can create files."""
    if os.geteuid() == 0:
        return Path("/proc/self")
    path = tmp_path / "locked"
    path.mkdir()
    path.chmod(0o555)
    return path


@pytest.fixture
def listening_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def assert_one_sentence_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_it_passes_a_healthy_setup_and_creates_what_it_needs(tmp_path):
    settings = Settings(data_dir=tmp_path / "new" / "data", port=free_port())
    resolved = run_startup_checks(settings)
    assert settings.data_dir.is_dir()
    assert resolved.secret_key
    assert (settings.data_dir / "secret_key").exists()
    assert list(settings.data_dir.glob(".write-check-*")) == []


def test_it_refuses_a_data_dir_that_cannot_be_created(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError) as caught:
        check_data_dir(tmp_path / "a-file" / "data")
    assert "cannot be created" in str(caught.value)
    assert "set BACKSTOP_DATA_DIR to a folder this user can write to" in str(caught.value)


def test_it_refuses_a_data_dir_it_cannot_write_to(tmp_path):
    locked = unwritable_dir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_data_dir(locked)
    assert f"The data directory {locked} is not writable by this user" in str(caught.value)


def test_it_refuses_a_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "data").write_text("")
    with pytest.raises(ConfigError) as caught:
        check_data_dir(tmp_path / "data")
    assert "is a file, not a folder" in str(caught.value)


def test_it_refuses_a_corrupt_database(tmp_path):
    (tmp_path / "backstop.db").write_bytes(NOT_A_DATABASE)
    with pytest.raises(ConfigError) as caught:
        check_database(tmp_path / "backstop.db")
    assert "is not a readable SQLite database" in str(caught.value)
    assert "backstop backup" in str(caught.value)


def test_it_accepts_a_missing_database_as_a_fresh_start(tmp_path):
    check_database(tmp_path / "backstop.db")


def test_it_refuses_a_port_in_use(listening_port):
    with pytest.raises(ConfigError) as caught:
        check_port_free("127.0.0.1", listening_port)
    assert str(caught.value) == (
        f"Port {listening_port} on 127.0.0.1 is already in use; stop the other program or set "
        "BACKSTOP_PORT (or --port) to a free port."
    )


def test_it_refuses_a_host_that_is_not_this_machine():
    with pytest.raises(ConfigError) as caught:
        check_port_free("192.0.2.1", free_port())
    assert "is not an address of this machine" in str(caught.value)


def test_it_refuses_a_secret_key_path_it_cannot_read(tmp_path):
    (tmp_path / "secret_key").mkdir()
    with pytest.raises(ConfigError) as caught:
        run_startup_checks(Settings(data_dir=tmp_path, port=free_port()))
    assert f"The secret key file {tmp_path / 'secret_key'} cannot be read" in str(caught.value)


# The real command line: exit code and the one sentence a person reads.


def test_it_reports_ok_from_backstop_check(tmp_path):
    port = free_port()
    result = run_cli("check", env={"BACKSTOP_DATA_DIR": str(tmp_path / "data"), "BACKSTOP_PORT": str(port)})
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and f"127.0.0.1:{port}" in result.stdout


def test_it_exits_non_zero_from_check_when_the_data_dir_cannot_be_written(tmp_path):
    locked = unwritable_dir(tmp_path)
    result = run_cli("check", env={"BACKSTOP_DATA_DIR": str(locked)})
    assert_one_sentence_error(result, "not writable", "BACKSTOP_DATA_DIR")


def test_it_exits_non_zero_from_check_when_the_data_dir_is_a_file(tmp_path):
    (tmp_path / "data").write_text("")
    result = run_cli("check", env={"BACKSTOP_DATA_DIR": str(tmp_path / "data")})
    assert_one_sentence_error(result, "is a file, not a folder", "BACKSTOP_DATA_DIR")


def test_it_exits_non_zero_from_check_when_the_port_is_in_use(tmp_path, listening_port):
    env = {"BACKSTOP_DATA_DIR": str(tmp_path / "data"), "BACKSTOP_PORT": str(listening_port)}
    result = run_cli("check", env=env)
    assert_one_sentence_error(result, f"Port {listening_port}", "already in use", "BACKSTOP_PORT")


def test_it_checks_the_port_given_on_the_command_line(tmp_path, listening_port):
    result = run_cli("check", "--port", str(listening_port), env={"BACKSTOP_DATA_DIR": str(tmp_path)})
    assert_one_sentence_error(result, "already in use")


def test_it_exits_non_zero_from_check_when_the_database_is_corrupt(tmp_path):
    (tmp_path / "backstop.db").write_bytes(NOT_A_DATABASE)
    result = run_cli("check", env={"BACKSTOP_DATA_DIR": str(tmp_path)})
    assert_one_sentence_error(result, "backstop.db is not a readable SQLite database", "restore it")


def test_it_exits_non_zero_from_check_on_a_malformed_setting(tmp_path):
    result = run_cli("check", env={"BACKSTOP_DATA_DIR": str(tmp_path), "BACKSTOP_BASE_URL": "example.com"})
    assert_one_sentence_error(result, "BACKSTOP_BASE_URL='example.com' is not a web address")


def test_it_exits_non_zero_from_check_on_an_unknown_setting(tmp_path):
    result = run_cli("check", env={"BACKSTOP_DATA_DIR": str(tmp_path), "BACKSTOP_DATADIR": "/srv"})
    assert_one_sentence_error(result, "did you mean BACKSTOP_DATA_DIR?")


def test_it_refuses_to_serve_when_the_port_is_in_use(tmp_path, listening_port):
    env = {"BACKSTOP_DATA_DIR": str(tmp_path), "BACKSTOP_PORT": str(listening_port)}
    result = run_cli("serve", env=env)
    assert_one_sentence_error(result, "already in use")


def test_it_refuses_to_serve_a_corrupt_database(tmp_path):
    (tmp_path / "backstop.db").write_bytes(NOT_A_DATABASE)
    result = run_cli("serve", env={"BACKSTOP_DATA_DIR": str(tmp_path), "BACKSTOP_PORT": str(free_port())})
    assert_one_sentence_error(result, "is not a readable SQLite database")


def test_it_refuses_to_serve_from_an_unwritable_data_dir(tmp_path):
    locked = unwritable_dir(tmp_path)
    result = run_cli("serve", env={"BACKSTOP_DATA_DIR": str(locked), "BACKSTOP_PORT": str(free_port())})
    assert_one_sentence_error(result, "not writable")


def test_it_refuses_to_serve_a_data_folder_another_backstop_serves(live_server):
    second = run_cli(
        "serve", env={"BACKSTOP_DATA_DIR": str(live_server.data_dir), "BACKSTOP_PORT": str(free_port())}
    )
    assert_one_sentence_error(second, "Another Backstop is already running on", "BACKSTOP_DATA_DIR")
    assert httpx.get(live_server.url + "/healthz", timeout=5).status_code == 200  # the first one goes on
