"""Benchmark output kept as a dated file: bench/results/<date>-<name>.txt, a machine line first, then what the run
printed. docs/benchmarks.md lists the files and the targets."""

import os
import platform
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """CPU model, cores, RAM, kernel and Python of this machine."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    except OSError:
        cpu = platform.processor() or "?"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


class _Tee:
    """A stdout that writes to the terminal and to the results file."""

    def __init__(self, terminal, file):
        self._terminal, self._file = terminal, file

    def write(self, text: str) -> int:
        self._terminal.write(text)
        self._file.write(text)
        return len(text)

    def flush(self) -> None:
        self._terminal.flush()
        self._file.flush()

    def __getattr__(self, name):  # isatty, encoding, fileno: the terminal's
        return getattr(self._terminal, name)


@contextmanager
def results_file(name: str):
    """Everything printed inside the block goes to the terminal and to bench/results/<today>-<name>.txt, whose first
    line is the machine and its PostgreSQL version (Django must be set up on the benchmark's server). A run that
    stops with an error says so at the end of the file."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{date.today():%Y-%m-%d}-{name}.txt"
    terminal = sys.stdout
    with path.open("w", encoding="utf-8") as file:
        file.write(f"machine: {machine()}, PostgreSQL {version}\n")
        sys.stdout = _Tee(terminal, file)
        try:
            yield path
        except BaseException as exc:
            file.write(f"\nthe run stopped: {type(exc).__name__}: {exc}\n")
            raise
        finally:
            sys.stdout = terminal
    print(f"results written to {path}")
