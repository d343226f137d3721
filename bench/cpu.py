"""CPU seconds used by each part of a benchmark cluster, read from /proc (Linux).

A load figure says how fast; this says where the cores went: the API processes, the workers, PostgreSQL,
Redis, the Chroma server, the load generator and the bench itself (which hosts the fake Slack). A process
that started between the readings counts whole; one that exited in between (a PostgreSQL backend closed by
its pool) is missed, so the figures are a floor. Roles go by command line, so idle services of the same
kind elsewhere on the machine (the shared PostgreSQL and Redis) add their little too.
"""

from __future__ import annotations

import os
import resource
from collections import defaultdict
from pathlib import Path

ROLES = (
    ("hub.cli serve", "api"),
    ("hub.cli worker", "worker"),
    ("bench.loadgen", "load generator"),
    ("bench.", "bench (fake Slack)"),
    ("chromadb", "chroma"),
    ("redis-server", "redis"),
    ("postgres", "postgresql"),
)


def role(cmdline: str) -> str | None:
    return next((name for marker, name in ROLES if marker in cmdline), None)


def _process(pid: str) -> tuple[str, float] | None:
    """(role, CPU seconds) of one process, or None if it is not ours or has gone."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = role(cmdline)
    if name is None:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0], utime [11], stime [12]
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def snapshot() -> dict[str, tuple[str, float]]:
    """pid -> (role, CPU seconds so far) for every process of a known role."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _process(entry.name)) is not None:
            out[entry.name] = found
    return out


def waited_children_s() -> float:
    """CPU seconds of this process's children that have exited and been waited for (the load generator,
    which is gone by the second snapshot)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def used(before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per role between two snapshots (a process started in between counts from zero)."""
    total: defaultdict[str, float] = defaultdict(float)
    for pid, (name, seconds) in after.items():
        start = before[pid][1] if pid in before and before[pid][0] == name else 0.0
        total[name] += seconds - start
    return {name: round(total[name], 1) for name in sorted(total, key=total.__getitem__, reverse=True)}
