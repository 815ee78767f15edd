"""The bubblewrap sandbox each local job runs in (issue 23): the host's system read-only, a private /tmp and
/dev, a new /proc in its own pid namespace (no worker to read /proc/<pid>/environ from), no network, an empty
environment but the job's own variables, and only its working and output directories writable. DATA_DIR (the
admin token file, the SQLite database), the spool, the outputs' root and the database's folder are covered by
empty tmpfs mounts; a hidden file elsewhere (the executor token file) by /dev/null.

The job runs as `nobody` (65534). Run as root, the worker's bwrap makes no user namespace (one made by root maps
the job's uid back to root on the host, which reads every root-only file): the job drops to the real nobody
through setpriv. Run as another user, bwrap maps nobody to that user, so the job keeps that user's file rights
outside the hidden folders: give such a worker a user of its own."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"  # util-linux, on every Debian
NOBODY = 65534


def hidden_paths(data_dir: Path, database_url: str, *others: Path) -> tuple[Path, ...]:
    """What a job must not see: DATA_DIR, the given folders and files (the spool, other executions' outputs, the
    executor token's file) and, for SQLite, the database file's folder."""
    paths = [data_dir, *others]
    if database_url.startswith("sqlite:///"):
        paths.append(Path(database_url.removeprefix("sqlite:///")).resolve().parent)
    return tuple(paths)


def _under(path: Path, roots: Iterable[Path]) -> bool:
    return any(path != root and path.is_relative_to(root) for root in roots)


@dataclass(frozen=True)
class Sandbox:
    hidden: tuple[Path, ...] = ()  # folders (covered by an empty one) and files (unreadable)
    # Host paths the job may read although they are under /tmp or a hidden folder (e.g. a test's script).
    readable: tuple[Path, ...] = ()
    bwrap: str = BWRAP

    @staticmethod
    def as_root() -> bool:
        return os.geteuid() == 0

    def prepare(self, writable: Iterable[Path]) -> None:
        """The job's own folders belong to the sandbox's user, so it can write there and nowhere else."""
        if self.as_root():
            for path in writable:
                os.chown(path, NOBODY, NOBODY)

    def argv(self, argv: list[str], env: dict[str, str], workdir: str, output_dir: str) -> list[str]:
        hidden = [p for p in self.hidden if p.is_dir() and p != Path("/")]
        covered = [Path("/tmp"), *hidden]
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--perms", "1777"]
        args += ["--tmpfs", "/tmp"]
        # bwrap mounts in order: the hidden folders are covered first, then the job's folders bound back on top
        # (the output folder is under DATA_DIR by default), through folders it makes 0755 (not its 0700) so that
        # the job's user can reach them.
        for path in hidden:
            args += ["--tmpfs", str(path)]
        # A hidden file (the executor token's) outside what is covered already: /dev/null in its place, which
        # bwrap mounts nodev, so opening it fails.
        for path in self.hidden:
            if path.is_file() and not _under(path, covered):
                args += ["--ro-bind", "/dev/null", str(path)]
        # The worker's own Python environment stays readable wherever it is (a checkout under /tmp, say): jobs
        # run by `python` from it, as the tests' do. A hidden folder inside a readable one is covered again.
        readable = [*self.readable, Path(sys.prefix)]
        binds = [("--ro-bind", Path(p)) for p in readable if _under(Path(p), covered)]
        binds += [("--tmpfs", p) for p in hidden if _under(p, readable)]
        binds += [("--bind", Path(workdir)), ("--bind", Path(output_dir))]
        for option, path in binds:
            for parent in reversed(path.parents):
                if _under(parent, covered):
                    args += ["--perms", "0755", "--dir", str(parent)]
            args += [option, str(path)] if option == "--tmpfs" else [option, str(path), str(path)]
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        args += ["--die-with-parent", "--clearenv", "--chdir", workdir]
        for name, value in {**env, "HOME": workdir, "TMPDIR": "/tmp"}.items():
            args += ["--setenv", name, value]
        if self.as_root():
            # No user namespace (root's would map the job's uid back to root): the job drops to nobody itself,
            # with no capabilities left and no way to gain any.
            drop = ["--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", "--inh-caps=-all"]
            return [*args, "--", SETPRIV, *drop, "--bounding-set=-all", "--no-new-privs", *argv]
        return [*args, "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--", *argv]
