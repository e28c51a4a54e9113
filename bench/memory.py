"""Peak memory of a benchmark's child process."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb() -> float:
    """Return this process's peak resident set so far, in MB (Linux ``VmHWM``).

    Not ``ru_maxrss``: Linux carries that over from the parent across fork/exec.
    """
    status = Path("/proc/self/status").read_text(encoding="ascii")
    peak_kb = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("VmHWM:"))
    return peak_kb / 1024
