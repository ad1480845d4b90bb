"""``backstop demo``: Backstop with a made-up company, "Demo Co", and twelve months of its billing,
on a data directory of its own, with a Stripe stand-in inside the process instead of Stripe."""

from __future__ import annotations

import shutil
from pathlib import Path

from backstop.demo.stand_in import DemoStripe
from backstop.settings import ConfigError, Settings

DEFAULT_DIR = Path("./demo-data")
MARKER = "BACKSTOP-DEMO"  # a file in the directory: only a directory with it is ever wiped

# The running demo's Stripe stand-in (None outside ``backstop demo``).
_account: DemoStripe | None = None


def account() -> DemoStripe | None:
    return _account


def demo_settings(data_dir: Path, port: int, host: str = "127.0.0.1") -> Settings:
    """Settings for the demo, built from nothing the environment says: no Stripe keys, no
    platform, no mail service, whatever BACKSTOP_* variables are set."""
    return Settings(
        data_dir=data_dir,
        host=host,
        port=port,
        email_transport="outbox",
        demo=True,
        stripe_rate_limit=100_000,
    )


def prepare_dir(data_dir: Path, real_data_dir: Path | None = None) -> None:
    """Start from an empty demo directory. A directory that holds anything but an earlier demo
    (a real Backstop's data, say) is refused, never touched."""
    data_dir = data_dir.expanduser()
    if real_data_dir is not None and data_dir.resolve() == real_data_dir.expanduser().resolve():
        raise ConfigError(
            f"{data_dir} is this Backstop's real data directory; the demo keeps its own. "
            "Pick another with --data-dir."
        )
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise ConfigError(
                f"{data_dir} already holds files that aren't an earlier demo's; the demo only "
                "writes to an empty folder or its own. Pick another with --data-dir."
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("Sample data made by `backstop demo`. Safe to delete.\n")


def activate(stand_in: DemoStripe) -> None:
    """Make ``stand_in`` the running demo's Stripe account (what the pages' buttons act on)."""
    global _account
    _account = stand_in
