"""Where the client finds the service: --url/--token/--token-file, else SCALE_URL/SCALE_TOKEN/SCALE_TOKEN_FILE, else
a TOML config file (--config, SCALE_CONFIG, or config.toml in click's application directory: ~/.config/scale/ on
Linux).

    url = "http://scale.example.org:8000"
    token = "..."                  # or:
    token_file = "/etc/scale/api_token"

The nearest source wins (scalecli.commands.chosen_token), and at one level a token file wins over a token;
--token on the command line works but warns: every user of the machine sees a command line.

click applies that order itself: the file only provides the options' defaults (its default_map).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

DEFAULT_URL = "http://127.0.0.1:8000"
KEYS = ("url", "token", "token_file")


def default_config_path() -> Path:
    return Path(click.get_app_dir("scale")) / "config.toml"


def load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Eager callback of --config: the file's url and token become the defaults of --url and --token."""
    path = Path(value) if value else default_config_path()
    if not path.is_file():
        if value:
            raise click.BadParameter(f"no such file: {path}", ctx, param)
        return value
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: {exc}", ctx, param) from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise click.BadParameter(f"{path}: unknown keys {', '.join(unknown)} (known: {', '.join(KEYS)})", ctx, param)
    ctx.default_map = {**(ctx.default_map or {}), **{k: str(v) for k, v in data.items()}}
    return value
