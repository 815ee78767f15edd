"""`python -m accounts`: add, list, change, disable and reset users, and create, list and revoke their personal API
tokens. Configured like the service (DATABASE_URL, DATA_DIR), on a database it migrates first if needed.

  user add NAME [--staff] [--first-name F] [--last-name L] [--email E] [--password-stdin | --no-password]
  user list | user show NAME
  user update NAME [--staff | --read-only] [--first-name F] [--last-name L] [--email E]
  user disable NAME | user enable NAME          (disabling ends the user's sessions)
  user reset NAME [--password-stdin | --no-password]   (a new password; ends the user's sessions)
  token create NAME --name LABEL [--days N] [--executor [--node NODE]]
                                                (prints the token, the only time it is shown)
  token list [NAME] | token revoke ID
  local-worker NODE                             (the local worker's token file, made or renewed; scripts/run)

Passwords are asked for twice without echo, or read as one line from standard input with --password-stdin.
Nothing prints a password or a stored hash; a token is printed once, when it is created.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from accounts.local_worker import ensure_local_worker
from core.times import format_datetime, utcnow
from jobs.db import upgrade
from jobs.errors import Invalid, NotFound
from jobs.records import Person
from jobs.stores import Stores
from jobs.user_store import DEFAULT_TOKEN_DAYS, EXECUTOR_SCOPE, USER_SCOPE, UserStore
from settings import Settings


class Context:
    def __init__(self) -> None:
        self._stores: Stores | None = None

    @property
    def stores(self) -> Stores:
        if self._stores is None:
            self._stores = Stores.open(Settings.from_env().database_url, utcnow)
            upgrade(self._stores.db.engine)
        return self._stores

    @property
    def users(self) -> UserStore:
        return self.stores.users

    def close(self) -> None:
        if self._stores is not None:
            self._stores.close()


def _run(action: Callable[[], Any]) -> Any:
    """Domain errors become a one-line message and exit status 1."""
    try:
        return action()
    except (Invalid, NotFound) as exc:
        message = f"no such {exc}" if isinstance(exc, NotFound) else str(exc)
        raise click.ClickException(message) from None


def _password(from_stdin: bool, none: bool) -> str | None:
    if none:
        return None
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _describe(p: Person) -> str:
    role = "staff" if p.is_staff else "read-only"
    state = "active" if p.is_active else "disabled"
    name = " ".join(part for part in (p.first_name, p.last_name) if part)
    login = format_datetime(p.last_login) or "never"
    fields = [p.username, role, state, f"last login {login}"]
    if not p.has_password:
        fields.append("no password (tokens only)")
    if name:
        fields.append(name)
    if p.email:
        fields.append(p.email)
    return "  ".join(fields)


@click.group(help=(__doc__ or "").split("\n\n")[0])
@click.pass_context
def cli(ctx: click.Context) -> None:
    context = Context()
    ctx.obj = context
    ctx.call_on_close(context.close)


pass_context = click.make_pass_decorator(Context)
password_options = (
    click.option("--password-stdin", is_flag=True, help="Read the password as one line from standard input."),
    click.option("--no-password", is_flag=True, help="No password login: personal tokens only."),
)


def with_password_options(f):
    for option in reversed(password_options):
        f = option(f)
    return f


@cli.group(help="Add, list, change, disable and reset users.")
def user() -> None:
    pass


@user.command("add", help="Add an active user (read-only unless --staff).")
@click.argument("username")
@click.option("--staff", is_flag=True, help="May write: create, cancel and requeue jobs.")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--email", default="")
@with_password_options
@pass_context
def user_add(
    c: Context,
    username: str,
    staff: bool,
    first_name: str,
    last_name: str,
    email: str,
    password_stdin: bool,
    no_password: bool,
) -> None:
    password = _password(password_stdin, no_password)
    person = _run(
        lambda: c.users.add_user(
            username, password, is_staff=staff, first_name=first_name, last_name=last_name, email=email
        )
    )
    click.echo(f"added {_describe(person)}")


@user.command("list", help="Every user, by name.")
@pass_context
def user_list(c: Context) -> None:
    for person in c.users.list_users():
        click.echo(_describe(person))


@user.command("show", help="One user.")
@click.argument("username")
@pass_context
def user_show(c: Context, username: str) -> None:
    person = c.users.get_user(username)
    if person is None:
        raise click.ClickException(f"no such user {username}")
    click.echo(_describe(person))


@user.command("update", help="Change a user's role or names.")
@click.argument("username")
@click.option("--staff/--read-only", default=None, help="May write, or only read.")
@click.option("--first-name", default=None)
@click.option("--last-name", default=None)
@click.option("--email", default=None)
@pass_context
def user_update(
    c: Context, username: str, staff: bool | None, first_name: str | None, last_name: str | None, email: str | None
) -> None:
    person = _run(
        lambda: c.users.update_user(username, is_staff=staff, first_name=first_name, last_name=last_name, email=email)
    )
    click.echo(f"updated {_describe(person)}")


@user.command("disable", help="No more logins, sessions or tokens for this user (they are kept).")
@click.argument("username")
@pass_context
def user_disable(c: Context, username: str) -> None:
    person = _run(lambda: c.users.update_user(username, is_active=False))
    click.echo(f"disabled {_describe(person)}")


@user.command("enable", help="Let a disabled user in again.")
@click.argument("username")
@pass_context
def user_enable(c: Context, username: str) -> None:
    person = _run(lambda: c.users.update_user(username, is_active=True))
    click.echo(f"enabled {_describe(person)}")


@user.command("reset", help="Set a new password (or none); the user's sessions end.")
@click.argument("username")
@with_password_options
@pass_context
def user_reset(c: Context, username: str, password_stdin: bool, no_password: bool) -> None:
    if c.users.get_user(username) is None:
        raise click.ClickException(f"no such user {username}")
    password = _password(password_stdin, no_password)
    person = _run(lambda: c.users.set_password(username, password))
    click.echo(f"reset {_describe(person)}")


@cli.group(help="Personal API tokens (Authorization: Bearer <token>), kept only as digests.")
def token() -> None:
    pass


@token.command("create", help="A new token for the user, printed once on standard output.")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (shown in listings).")
@click.option("--days", type=int, default=DEFAULT_TOKEN_DAYS, show_default=True, help="Days until it expires.")
@click.option(
    "--executor",
    is_flag=True,
    help="Executor scope: may only start, update and finish executions and send their log lines.",
)
@click.option("--node", default=None, help="With --executor: only for executions of this node.")
@pass_context
def token_create(c: Context, username: str, name: str, days: int, executor: bool, node: str | None) -> None:
    if node is not None and not executor:
        raise click.UsageError("--node needs --executor")
    scope = EXECUTOR_SCOPE if executor else USER_SCOPE
    secret, info = _run(lambda: c.users.create_token(username, name, scope=scope, node=node, days=days))
    what = f"{info.scope} token" + (f" of node {info.node}" if info.node else "")
    click.echo(
        f"{what} {info.id} ({info.name}) for {info.username}, expires {format_datetime(info.expires)}; "
        "it is not shown again:",
        err=True,
    )
    click.echo(secret)


@token.command("list", help="Tokens (of one user): id, owner, name, first characters, scope, created, expiry.")
@click.argument("username", required=False)
@pass_context
def token_list(c: Context, username: str | None) -> None:
    now = utcnow()
    for t in c.users.list_tokens(username):
        if t.revoked:
            state = f"revoked {format_datetime(t.revoked)}"
        elif t.expires is None or t.expires <= now:
            state = f"expired {format_datetime(t.expires) or ''}".rstrip()
        else:
            state = f"active until {format_datetime(t.expires)}"
        scope = t.scope + (f"@{t.node}" if t.node else "")
        click.echo(
            f"{t.id}  {t.username}  {t.name}  {t.prefix}...  {scope}  created {format_datetime(t.created)}  {state}"
        )


@token.command("revoke", help="Stop a token from working.")
@click.argument("token_id", type=int)
@pass_context
def token_revoke(c: Context, token_id: int) -> None:
    info = _run(lambda: c.users.revoke_token(token_id))
    click.echo(f"revoked token {info.id} ({info.name}) of {info.username}")


@cli.command(
    "local-worker",
    help="The local worker's executor token, bound to NODE (made, or made again when the kept one stopped working), "
    "in DATA_DIR/worker_token (mode 600), and its output workspace: prints the file's path, never the token.",
)
@click.argument("node")
@pass_context
def local_worker(c: Context, node: str) -> None:
    click.echo(ensure_local_worker(Settings.from_env(), c.stores, node))


if __name__ == "__main__":
    cli(prog_name="python -m accounts")
