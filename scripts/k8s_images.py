"""Build the test cluster's container images from this machine's files, as docker-archive tarballs that
`ctr images import` loads (no registry, no Docker). Standard library only; run by scripts/kubernetes.

  python3 scripts/k8s_images.py OUT_DIR PAUSE_BINARY

writes OUT_DIR/pause.tar, OUT_DIR/busybox.tar and OUT_DIR/python.tar (each skipped when present) and prints
their paths with their image names:

  scalelogs.local/pause:1     the pod sandbox: one static process that waits for a signal and reaps children
  scalelogs.local/busybox:1   Debian's static busybox with its applets linked in /bin (sh, echo, sleep, ...)
  scalelogs.local/python:1    Debian's python3 with the standard library and the shared libraries it loads,
                              plus busybox (python3 and python in /usr/bin, sh in /bin)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

BUSYBOX = "/bin/busybox"
PYTHON = "/usr/bin/python3.11"
STDLIB = "/usr/lib/python3.11"
# Parts of the standard library no test job needs (their size would only slow every import into containerd).
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "dist-packages", "__pycache__"}
PATH = "/usr/local/bin:/usr/bin:/bin"


def add_file(tar: tarfile.TarFile, source: str, name: str, mode: int | None = None) -> None:
    info = tar.gettarinfo(source, arcname=name.lstrip("/"))
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    if mode is not None:
        info.mode = mode
    with open(source, "rb") as f:
        tar.addfile(info, f)


def add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    tar.addfile(info)


def shared_libraries(binaries: list[str]) -> list[str]:
    """Every shared library the binaries load (ldd), the dynamic loader included."""
    found: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            for part in parts:
                if part.startswith("/") and os.path.exists(part):
                    found.add(part)
    return sorted(found)


def busybox_layer(tar: tarfile.TarFile, seen_dirs: set[str]) -> None:
    for d in ("/bin", "/tmp", "/etc", "/proc", "/sys", "/dev"):
        if d not in seen_dirs:
            add_dir(tar, d)
            seen_dirs.add(d)
    add_file(tar, BUSYBOX, "/bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            add_link(tar, f"/bin/{applet}", "busybox")


def python_layer(tar: tarfile.TarFile, seen_dirs: set[str]) -> None:
    busybox_layer(tar, seen_dirs)
    dynload = sorted(str(p) for p in Path(STDLIB, "lib-dynload").glob("*.so"))
    files: list[str] = [PYTHON, *shared_libraries([PYTHON, *dynload])]
    for top, dirs, names in os.walk(STDLIB):
        dirs[:] = sorted(d for d in dirs if d not in STDLIB_SKIP)
        files += [os.path.join(top, n) for n in sorted(names)]
    for path in files:
        real = os.path.realpath(path)
        for parent in reversed(Path(path).parents):
            if str(parent) != "/" and str(parent) not in seen_dirs:
                add_dir(tar, str(parent))
                seen_dirs.add(str(parent))
        add_file(tar, real, path)
    for name in ("/usr/bin/python3", "/usr/bin/python"):
        add_link(tar, name, "python3.11")


def pause_layer(pause_binary: str):
    def build(tar: tarfile.TarFile, seen_dirs: set[str]) -> None:
        add_file(tar, pause_binary, "/pause", 0o755)

    return build


def write_image(out: Path, name: str, build_layer, entrypoint: list[str]) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        build_layer(tar, set())
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [f"PATH={PATH}"], "Entrypoint": entrypoint, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "scripts/k8s_images.py"}],
    }
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [name], "Layers": ["layer.tar"]}]
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, mode="w") as archive:
        for member, data in (
            ("layer.tar", layer_bytes),
            (config_name, config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    partial.rename(out)


def main(argv: list[str]) -> int:
    out_dir, pause_binary = Path(argv[1]), argv[2]
    out_dir.mkdir(parents=True, exist_ok=True)
    images = [
        ("pause", "scalelogs.local/pause:1", pause_layer(pause_binary), ["/pause"]),
        ("busybox", "scalelogs.local/busybox:1", busybox_layer, ["/bin/sh"]),
        ("python", "scalelogs.local/python:1", python_layer, ["/usr/bin/python3"]),
    ]
    for file_name, name, layer, entrypoint in images:
        path = out_dir / f"{file_name}.tar"
        if not path.exists():
            write_image(path, name, layer, entrypoint)
        print(path, name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
