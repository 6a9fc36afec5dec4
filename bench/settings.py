"""The project's settings plus the benchmark's fixture app (bench.stallapp), for `make bench` only."""

from gova.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.stallapp"]  # noqa: F405
