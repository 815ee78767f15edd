"""The `scale` command and its subcommands (click)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from scalecli import logs, render
from scalecli import search as search_cmds
from scalecli.api import Api, ApiError
from scalecli.config import DEFAULT_URL, load_config

Command = Callable[..., Any]
STATUSES = "PENDING, BLOCKED, QUEUED, RUNNING, FAILED, COMPLETED, CANCELED"


@dataclass
class State:
    url: str
    token: str | None
    timeout: float
    _api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            self._api = Api(self.url, self.token, self.timeout)
        return self._api


class ScaleGroup(click.Group):
    """Errors of the service end the command with its `detail` on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:  # `scale logs 5 | head`: the reader has gone, that is all
            # Nothing more can be written; point stdout elsewhere so the interpreter's last flush stays quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)


@click.group(cls=ScaleGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--config",
    envvar="SCALE_CONFIG",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=load_config,
    help="TOML file with url and token [default: config.toml in ~/.config/scale/]",
)
@click.option("--url", envvar="SCALE_URL", default=DEFAULT_URL, show_default=True, help="The service [SCALE_URL]")
@click.option(
    "--token",
    envvar="SCALE_TOKEN",
    help="Bearer token: the admin token for writes [SCALE_TOKEN]. On the command line it shows in `ps` and the "
    "shell's history: prefer SCALE_TOKEN, --token-file or the config file",
)
@click.option(
    "--token-file",
    envvar="SCALE_TOKEN_FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="File holding the bearer token (e.g. data/api_token) [SCALE_TOKEN_FILE]",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for an answer")
@click.version_option("1", prog_name="scale")
@click.pass_context
def main(ctx: click.Context, url: str, token: str | None, token_file: str | None, timeout: float) -> None:
    """Jobs and their logs on a Scale job and log search service."""
    state = ctx.obj = State(url, chosen_token(ctx, token, token_file), timeout)
    ctx.call_on_close(lambda: state._api.close() if state._api else None)


def chosen_token(ctx: click.Context, token: str | None, token_file: str | None) -> str | None:
    """The token to send, from the nearest source: the command line, then the environment, then the config file;
    at one level a token file wins over a token. --token on the command line works but warns (every user of the
    machine sees a command line in `ps`); it with --token-file is a usage error."""
    source = click.core.ParameterSource
    rank = {source.COMMANDLINE: 0, source.ENVIRONMENT: 1, source.DEFAULT_MAP: 2}
    token_rank = rank.get(ctx.get_parameter_source("token"), 3) if token else 3  # type: ignore[arg-type]
    file_rank = rank.get(ctx.get_parameter_source("token_file"), 3) if token_file else 3  # type: ignore[arg-type]
    if token_rank == file_rank == 0:
        raise click.UsageError("give --token or --token-file, not both", ctx)
    if token_rank == 0:
        click.echo(
            "scale: warning: --token shows the token to every user of this machine (ps) and stays in the shell's "
            "history; use SCALE_TOKEN, --token-file or the config file",
            err=True,
        )
    if token_file and file_rank <= token_rank:
        try:
            with open(token_file) as f:
                return f.read().strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"{token_file}: {exc}", ctx, param_hint="--token-file") from None
    return token or None


def json_option(command: Command) -> Command:
    return click.option("--json", "as_json", is_flag=True, help="Print the service's JSON as it is")(command)


def pass_state(command: Command) -> Command:
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        return command(click.get_current_context().find_object(State), *args, **kwargs)

    return run


def _filters(command: Command) -> Command:
    """The job filters shared by the list, cancel and requeue."""
    for option in reversed(
        (
            click.option("--status", multiple=True, help=f"Jobs of this status ({STATUSES}); repeatable"),
            click.option("--job-id", "job_ids", multiple=True, type=int, help="This job; repeatable"),
            click.option("--job-type", "job_type_names", multiple=True, help="Job type name; repeatable"),
            click.option("--job-type-id", "job_type_ids", multiple=True, type=int, help="Job type id; repeatable"),
            click.option(
                "--error-category", "error_categories", multiple=True, help="SYSTEM, ALGORITHM or DATA; repeatable"
            ),
            click.option("--started", help="Last modified at or after (ISO-8601, or a duration ago such as PT1H)"),
            click.option("--ended", help="Last modified at or before"),
        )
    ):
        command = option(command)
    return command


def _upper(values: tuple[str, ...]) -> list[str]:
    return [v.upper() for v in values]


# --- jobs ---------------------------------------------------------------------------------------------------


@main.command()
@_filters
@click.option("--order", multiple=True, help="Field to order by, '-' for descending (e.g. -last_modified); repeatable")
@click.option("--page", type=click.IntRange(min=1), help="Page of the results")
@click.option("--page-size", type=click.IntRange(1, 1000), default=25, show_default=True)
@json_option
@pass_state
def jobs(
    state: State,
    status: tuple[str, ...],
    job_ids: tuple[int, ...],
    job_type_names: tuple[str, ...],
    job_type_ids: tuple[int, ...],
    error_categories: tuple[str, ...],
    started: str | None,
    ended: str | None,
    order: tuple[str, ...],
    page: int | None,
    page_size: int,
    as_json: bool,
) -> None:
    """List jobs (a table), filtered like GET /v6/jobs/."""
    params: dict[str, Any] = {
        "status": _upper(status),
        "job_id": list(job_ids),
        "job_type_name": list(job_type_names),
        "job_type_id": list(job_type_ids),
        "error_category": _upper(error_categories),
        "started": started,
        "ended": ended,
        "order": list(order),
        "page": page,
        "page_size": page_size,
    }
    answer = state.api.get_json("/v6/jobs/", {k: v for k, v in params.items() if v not in (None, [])})
    if as_json:
        render.print_json(answer)
        return
    rows = [
        [
            str(job["id"]),
            render.escape(job["job_type"]["name"]),
            render.escape(job["job_type"]["version"]),
            render.status_text(job["status"]),
            str(job["num_exes"]),
            render.escape((job.get("node") or {}).get("hostname")),
            job.get("last_modified"),
        ]
        for job in answer["results"]
    ]
    out = render.console()
    out.print(render.table(["ID", "JOB TYPE", "VERSION", "STATUS", "EXES", "NODE", "LAST MODIFIED"], rows))
    more = f"; next: --page {(page or 1) + 1}" if answer.get("next") else ""
    out.print(f"{len(rows)} of {answer['count']} jobs{more}", style="dim")


@main.command()
@click.argument("job_id", type=int)
@json_option
@pass_state
def job(state: State, job_id: int, as_json: bool) -> None:
    """One job's details."""
    answer = state.api.get_json(f"/v6/jobs/{job_id}/")
    if as_json:
        render.print_json(answer)
        return
    job_type = answer["job_type"]
    execution = answer.get("execution") or {}
    error = answer.get("error") or {}
    fields = [
        ("ID", str(answer["id"])),
        ("Job type", render.escape(f"{job_type['name']} {job_type['version']} (id {job_type['id']})")),
        ("Status", render.status_text(answer["status"])),
        ("Executions", f"{answer['num_exes']} of at most {answer['max_tries']}"),
        ("Node", render.escape((answer.get("node") or {}).get("hostname"))),
        ("Error", render.escape(f"{error['name']}: {error['title']}") if error else ""),
        ("Execution", f"{execution['id']} ({execution['status']})" if execution else ""),
        ("Created", answer.get("created")),
        ("Queued", answer.get("queued")),
        ("Started", answer.get("started")),
        ("Ended", answer.get("ended")),
        ("Last modified", answer.get("last_modified")),
        ("Input", render.escape(render.json_text(answer.get("input")))),
    ]
    out = render.console()
    grid = render.table(["FIELD", "VALUE"], [[name, value] for name, value in fields])
    grid.show_header = False
    out.print(grid)
    if execution:
        out.print(f"logs: scale logs {execution['id']}", style="dim")


# --- logs ---------------------------------------------------------------------------------------------------


@main.command(name="logs")
@click.argument("exe_id", type=int)
@click.option("--stream", type=click.Choice(["stdout", "stderr"]), help="One stream only [default: both]")
@click.option("--tail", type=click.IntRange(1, 10_000), help="Only the last N lines")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the execution ends")
@json_option
@pass_state
def logs_command(state: State, exe_id: int, stream: str | None, tail: int | None, follow: bool, as_json: bool) -> None:
    """An execution's log lines (stdout and stderr, oldest first; stderr in red on a terminal)."""
    which = stream or "combined"

    def retrying(why: str, delay: float) -> None:
        render.note(f"{why}; retrying in {delay:.1f} s")

    retry = logs.Retry(on_retry=retrying)
    if follow:
        lines = logs.follow(state.api, exe_id, which, tail, retry)
    elif tail is not None:
        lines = iter(logs.tail(state.api, exe_id, which, tail))
    else:
        lines = logs.whole(state.api, exe_id, which, retry)
    for line in lines:
        render.log_line(line, as_json)


@main.command()
@click.argument("text")
@click.option(
    "--regex", is_flag=True, help="TEXT is a Lucene regular expression over the whole line (e.g. '.*disk full.*')"
)
@click.option("--job-id", "job_ids", multiple=True, type=int, help="Lines of this job; repeatable")
@click.option("--exe-id", "exe_ids", multiple=True, type=int, help="Lines of this execution; repeatable")
@click.option("--job-type", "job_type_names", multiple=True, help="Lines of this job type; repeatable")
@click.option("--stream", type=click.Choice(["stdout", "stderr"]))
@click.option("--node", "nodes", multiple=True, help="Lines of this node; repeatable")
@click.option(
    "--job-type-version", "job_type_versions", multiple=True, help="Lines of this job type version; repeatable"
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(search_cmds.JOB_STATUSES),
    help="Lines of executions whose job has this status now; repeatable",
)
@click.option(
    "--error-category",
    "error_categories",
    multiple=True,
    type=click.Choice(search_cmds.ERROR_CATEGORIES),
    help="Lines of executions whose job's error has this category; repeatable",
)
@click.option("--started", help="Lines at or after (ISO-8601, or a duration ago such as PT1H)")
@click.option("--ended", help="Lines at or before")
@click.option("--oldest-first", is_flag=True, help="Oldest lines first [default: newest first]")
@click.option("--page", type=click.IntRange(min=1))
@click.option("--page-size", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--all", "every", is_flag=True, help="Every match, however many (a cursor walk), not one page")
@click.option("--context", type=click.IntRange(0, 1000), help="Show N lines before and after each match")
@click.option("--group", is_flag=True, help="One row per execution: its job, status, matches and first match")
@click.option("--histogram", is_flag=True, help="Matches over time (buckets with counts) instead of the lines")
@click.option(
    "--facets", is_flag=True, help="The top job types, versions, streams, nodes, job statuses and error categories"
)
@click.option("--export", "export_to", help="Write every match to FILE (.csv, .txt, else NDJSON; - for stdout)")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new matches from every execution (Ctrl-C to stop)")
@json_option
@pass_state
def search(
    state: State,
    text: str,
    regex: bool,
    job_ids: tuple[int, ...],
    exe_ids: tuple[int, ...],
    job_type_names: tuple[str, ...],
    stream: str | None,
    nodes: tuple[str, ...],
    job_type_versions: tuple[str, ...],
    statuses: tuple[str, ...],
    error_categories: tuple[str, ...],
    started: str | None,
    ended: str | None,
    oldest_first: bool,
    page: int | None,
    page_size: int,
    every: bool,
    context: int | None,
    group: bool,
    histogram: bool,
    facets: bool,
    export_to: str | None,
    follow: bool,
    as_json: bool,
) -> None:
    """Search log lines of every execution for TEXT (all words; "quoted words" as a phrase; or --regex)."""
    filters: dict[str, Any] = {
        "regex" if regex else "q": text,
        "job_id": list(job_ids),
        "job_exe_id": list(exe_ids),
        "job_type_name": list(job_type_names),
        "stream": stream,
        "node": list(nodes),
        "job_type_version": list(job_type_versions),
        "status": list(statuses),
        "error_category": list(error_categories),
        "started": started,
        "ended": ended,
    }
    filters = {k: v for k, v in filters.items() if v not in (None, [])}
    if follow:
        retry = logs.Retry(on_retry=lambda why, delay: render.note(f"{why}; retrying in {delay:.1f} s"))
        for hit in search_cmds.follow(state.api, filters, retry):
            search_cmds.hit_line(hit, as_json)
        return
    if histogram:
        search_cmds.print_histogram(state.api, filters, as_json)
        return
    if facets:
        search_cmds.print_facets(state.api, filters, as_json)
        return
    if export_to is not None:
        written = search_cmds.export(state.api, filters, export_to)
        render.note(f"{written} bytes written to {export_to}")
        return
    if group:
        search_cmds.print_groups(state.api, {**filters, "page_size": page_size, "page": page}, as_json)
        return
    params = {**filters, "order": "timestamp" if oldest_first else None}
    params = {k: v for k, v in params.items() if v is not None}
    if every:
        hits, count = list(search_cmds.walk(state.api, params)), None
    else:
        answer = state.api.get_json("/v6/logs/", {**params, "page_size": page_size, **({"page": page} if page else {})})
        hits, count = answer["results"], answer["count"]
    if context is not None:
        search_cmds.print_context(state.api, hits, context, as_json)
        return
    if as_json:
        render.print_json({"count": len(hits), "results": hits} if every else answer)
        return
    rows = [
        [
            hit.get("@timestamp"),
            str(hit.get("job_id") or ""),
            str(hit.get("exe_num") or ""),
            render.escape((hit.get("job_type") or {}).get("name")),
            render.escape(hit.get("stream")),
            render.escape(hit.get("message")),
        ]
        for hit in hits
    ]
    out = render.console()
    out.print(render.table(["TIME", "JOB", "EXE", "JOB TYPE", "STREAM", "MESSAGE"], rows))
    out.print(f"{len(rows)} of {len(rows) if count is None else count} lines", style="dim")


# --- cancel and requeue -------------------------------------------------------------------------------------


def _bulk_body(
    everything: bool,
    status: tuple[str, ...],
    job_ids: tuple[int, ...],
    job_type_names: tuple[str, ...],
    job_type_ids: tuple[int, ...],
    error_categories: tuple[str, ...],
    started: str | None,
    ended: str | None,
) -> dict[str, Any]:
    if len(status) > 1:
        raise click.UsageError("--status can be given once here (the service takes one status)")
    body: dict[str, Any] = {
        "status": status[0].upper() if status else None,
        "job_ids": list(job_ids),
        "job_type_names": list(job_type_names),
        "job_type_ids": list(job_type_ids),
        "error_categories": _upper(error_categories),
        "started": started,
        "ended": ended,
    }
    body = {k: v for k, v in body.items() if v not in (None, [])}
    if not body and not everything:
        raise click.UsageError("give a filter (--job-id, --status, ...), or --all to mean every job")
    return body


def _bulk_command(action: str, summary: str) -> Callable[[Command], Command]:
    def decorate(command: Command) -> Command:
        command = json_option(command)
        command = click.option("--all", "everything", is_flag=True, help=f"{action.capitalize()} every job")(command)
        command = _filters(command)
        return main.command(name=action, help=summary)(pass_state(command))

    return decorate


def _report(state: State, action: str, body: dict[str, Any], as_json: bool) -> None:
    answer = state.api.post_json(f"/v6/jobs/{action}/", body)
    if as_json:
        render.print_json(answer)
    else:
        render.console().print(f"{action}: {answer['matched']} jobs matched")


@_bulk_command("cancel", "Cancel the jobs the filters match (not yet ended ones are canceled).")
def cancel(state: State, everything: bool, as_json: bool, **filters: Any) -> None:
    _report(state, "cancel", _bulk_body(everything, **filters), as_json)


@_bulk_command("requeue", "Requeue the failed or canceled jobs the filters match.")
@click.option("--priority", type=int, help="New priority of the requeued jobs")
def requeue(state: State, everything: bool, as_json: bool, priority: int | None, **filters: Any) -> None:
    body = _bulk_body(everything, **filters)
    if priority is not None:
        body["priority"] = priority
    _report(state, "requeue", body, as_json)


# --- saved searches and alerts (scalecli/alerts.py) ----------------------------------------------------------

from scalecli.alerts import COMMANDS as ALERT_COMMANDS  # noqa: E402 (they need no more than `main`'s State)

for _command in ALERT_COMMANDS:
    main.add_command(_command)
