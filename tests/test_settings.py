"""Settings: read from BACKSTOP_* variables, strictly, with one-sentence errors that say the fix."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from backstop.settings import ConfigError, Settings, ensure_secret_key

GOOD_KEY = "k" * 48


def error_for(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return str(caught.value)


def assert_one_sentence(message: str) -> None:
    assert message.endswith((".", "?", ")")), message
    assert "\n" not in message
    assert "Traceback" not in message


def test_it_uses_the_documented_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.data_dir == Path("./data")
    assert settings.host == "127.0.0.1"
    assert settings.port == 8750
    assert settings.base_url is None
    assert settings.secret_key is None
    assert settings.log_level == "info"
    assert settings.api_rate_limit == 60
    assert settings.public_url == "http://127.0.0.1:8750"
    assert settings.cookies_secure is False


def test_it_ignores_variables_that_are_not_backstop_settings():
    assert Settings.from_env({"HOME": "/root", "PORT": "nonsense"}).port == 8750


def test_it_reads_every_variable():
    settings = Settings.from_env(
        {
            "BACKSTOP_DATA_DIR": "/srv/backstop",
            "BACKSTOP_HOST": "0.0.0.0",  # noqa: S104
            "BACKSTOP_PORT": "9000",
            "BACKSTOP_BASE_URL": "https://backstop.example.com/",
            "BACKSTOP_SECRET_KEY": GOOD_KEY,
            "BACKSTOP_LOG_LEVEL": "WARNING",
            "BACKSTOP_API_RATE_LIMIT": "120",
            "BACKSTOP_JOBS_WORKERS": "4",
            "BACKSTOP_SECURE_COOKIES": "no",
        }
    )
    assert settings.data_dir == Path("/srv/backstop")
    assert settings.host == "0.0.0.0"  # noqa: S104
    assert settings.port == 9000
    assert settings.base_url == "https://backstop.example.com"
    assert settings.public_url == "https://backstop.example.com"
    assert settings.secret_key == GOOD_KEY
    assert settings.log_level == "warning"
    assert settings.api_rate_limit == 120
    assert settings.jobs_workers == 4
    assert settings.secure_cookies is False
    assert settings.cookies_secure is False


def test_it_treats_an_empty_variable_as_unset():
    assert Settings.from_env({"BACKSTOP_PORT": "  "}).port == 8750


def test_it_makes_cookies_secure_when_the_public_address_is_https():
    settings = Settings.from_env({"BACKSTOP_BASE_URL": "https://backstop.example.com"})
    assert settings.cookies_secure is True


def test_it_points_links_at_loopback_when_listening_on_every_address():
    settings = Settings.from_env({"BACKSTOP_HOST": "0.0.0.0", "BACKSTOP_PORT": "8800"})  # noqa: S104
    assert settings.public_url == "http://127.0.0.1:8800"


@pytest.mark.parametrize(
    ("raw", "words"),
    [("eighty", "is not a number"), ("0", "out of range"), ("70000", "out of range"), ("-1", "out of range")],
)
def test_it_refuses_a_bad_port(raw, words):
    message = error_for({"BACKSTOP_PORT": raw})
    assert "BACKSTOP_PORT" in message and words in message
    assert "between 1 and 65535" in message
    assert_one_sentence(message)


@pytest.mark.parametrize(
    "raw",
    [
        "backstop.example.com",
        "ftp://backstop.example.com",
        "https://",
        "https://backstop.example.com:port",
        "https://backstop.example.com/?x=1",
        "https://backstop.example.com/#top",
    ],
)
def test_it_refuses_a_malformed_base_url(raw):
    message = error_for({"BACKSTOP_BASE_URL": raw})
    assert message.startswith("BACKSTOP_BASE_URL=")
    assert "https://backstop.example.com" in message or "colon" in message
    assert_one_sentence(message)


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_it_refuses_a_bool_that_is_neither_true_nor_false(raw):
    message = error_for({"BACKSTOP_SECURE_COOKIES": raw})
    assert message == f"BACKSTOP_SECURE_COOKIES={raw!r} is not true or false; set it to true or false."


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("on", True), ("Off", False)])
def test_it_accepts_the_usual_spellings_of_true_and_false(raw, expected):
    assert Settings.from_env({"BACKSTOP_SECURE_COOKIES": raw}).secure_cookies is expected


def test_it_refuses_an_unknown_log_level_and_lists_the_choices():
    message = error_for({"BACKSTOP_LOG_LEVEL": "verbose"})
    assert "BACKSTOP_LOG_LEVEL='verbose'" in message
    for level in ("debug", "info", "warning", "error"):
        assert level in message
    assert_one_sentence(message)


@pytest.mark.parametrize("name", ["BACKSTOP_API_RATE_LIMIT", "BACKSTOP_JOBS_WORKERS"])
@pytest.mark.parametrize("raw", ["lots", "0", "1.5"])
def test_it_refuses_a_count_that_is_not_a_positive_whole_number(name, raw):
    message = error_for({name: raw})
    assert message.startswith(f"{name}={raw!r}")
    assert "such as 60" in message
    assert_one_sentence(message)


def test_it_reads_the_secret_key_from_a_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(GOOD_KEY + "\n")
    settings = Settings.from_env({"BACKSTOP_SECRET_KEY_FILE": str(key_file)})
    assert settings.secret_key == GOOD_KEY


def test_it_refuses_a_secret_key_and_a_secret_key_file_together(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(GOOD_KEY)
    message = error_for({"BACKSTOP_SECRET_KEY": GOOD_KEY, "BACKSTOP_SECRET_KEY_FILE": str(key_file)})
    assert message == (
        "Both BACKSTOP_SECRET_KEY and BACKSTOP_SECRET_KEY_FILE are set; keep only one of them."
    )


def test_it_says_which_secret_file_cannot_be_read(tmp_path):
    missing = tmp_path / "nowhere" / "key"
    message = error_for({"BACKSTOP_SECRET_KEY_FILE": str(missing)})
    assert message.startswith(f"BACKSTOP_SECRET_KEY_FILE points at {missing}, which cannot be read")
    assert "fix the path" in message


def test_it_refuses_an_empty_secret_key_file(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("\n")
    message = error_for({"BACKSTOP_SECRET_KEY_FILE": str(key_file)})
    assert "is empty" in message
    assert_one_sentence(message)


def test_it_refuses_an_unknown_variable_with_a_did_you_mean_hint():
    message = error_for({"BACKSTOP_PROT": "8750"})
    assert message == "Unknown setting BACKSTOP_PROT; remove it or fix the name (did you mean BACKSTOP_PORT?)"


def test_it_refuses_a_file_variant_for_a_setting_that_is_not_secret():
    message = error_for({"BACKSTOP_PORT_FILE": "/run/secrets/port"})
    assert "Unknown setting BACKSTOP_PORT_FILE" in message


def test_it_points_at_the_docs_when_an_unknown_variable_resembles_nothing():
    message = error_for({"BACKSTOP_ZZZZZZZZZZZZZZZ": "1"})
    assert "docs/configuration.md" in message


def test_it_generates_a_secret_key_into_the_data_dir_readable_only_by_its_owner(tmp_path):
    settings = Settings(data_dir=tmp_path)
    resolved = ensure_secret_key(settings)
    key_file = tmp_path / "secret_key"
    assert len(resolved.secret_key) >= 32
    assert key_file.read_text().strip() == resolved.secret_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_it_reuses_the_generated_key_on_the_next_start(tmp_path):
    first = ensure_secret_key(Settings(data_dir=tmp_path)).secret_key
    second = ensure_secret_key(Settings(data_dir=tmp_path)).secret_key
    assert first == second


def test_it_prefers_a_configured_key_and_writes_no_file(tmp_path):
    resolved = ensure_secret_key(Settings(data_dir=tmp_path, secret_key=GOOD_KEY))
    assert resolved.secret_key == GOOD_KEY
    assert not (tmp_path / "secret_key").exists()


def test_it_refuses_a_configured_key_that_is_too_short(tmp_path):
    with pytest.raises(ConfigError) as caught:
        ensure_secret_key(Settings(data_dir=tmp_path, secret_key="short"))
    assert "shorter than 32 characters" in str(caught.value)
    assert "secrets.token_urlsafe" in str(caught.value)


def test_it_refuses_a_key_file_in_the_data_dir_that_is_too_short(tmp_path):
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(ConfigError) as caught:
        ensure_secret_key(Settings(data_dir=tmp_path))
    assert "delete the file" in str(caught.value)


def test_it_hides_the_secret_key_from_the_settings_repr():
    assert GOOD_KEY not in repr(Settings(secret_key=GOOD_KEY))
