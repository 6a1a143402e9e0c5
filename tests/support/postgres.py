"""A real PostgreSQL server for the tests, started and stopped by them: the distribution's
own packages (Debian's ``postgresql``, which ``scripts/setup`` installs where it can), a
fresh cluster in a temporary folder, reached on a Unix socket only (no TCP port), run as
the ``postgres`` user when the tests run as root (the server refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["server"]


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def server() -> Iterator[str]:
    """Start a PostgreSQL cluster; yield its connection URI; stop and remove it after.

    Raises:
        RuntimeError: naming why the server cannot be had here (for the test to skip or fail).
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401  (deepface's postgres backend uses it)
    except ImportError as err:
        raise RuntimeError(f"psycopg is not installed: {err}") from err
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise RuntimeError("running as root without runuser: the server refuses to run as root")
    root = Path(tempfile.mkdtemp(prefix="deepface-batch-postgres-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = _as_server_user([str(bin_dir / args[0]), *args[1:]])
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    try:
        made = run("initdb", "-D", str(data), "-A", "trust", "-U", "deepface", "--no-sync")
        if made.returncode:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()[-500:]}")
        options = f"-k {sockets} -c listen_addresses='' -c fsync=off"
        started = run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        if started.returncode:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            raise RuntimeError(f"the server did not start: {started.stderr.strip()} {log[-500:]}")
        try:
            yield f"postgresql://deepface@/postgres?host={sockets}"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
