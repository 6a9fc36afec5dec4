"""A writer in a process of its own, for the benchmarks that measure its waits while something else runs."""

import multiprocessing


class WriterProcess:
    """`target(*args, ready, stop, results)` in a spawned process (a fork would inherit the parent's Django
    connection): entered once it is connected, stopped by `finish()`, which returns what it put in `results`."""

    def __init__(self, target, args: tuple, name: str):
        context = multiprocessing.get_context("spawn")
        self.ready, self.stop, self.results = context.Event(), context.Event(), context.Queue()
        self.process = context.Process(target=target, args=(*args, self.ready, self.stop, self.results), name=name)

    def __enter__(self):
        self.process.start()
        if not self.ready.wait(60):
            self.__exit__(None, None, None)
            raise RuntimeError(f"{self.process.name}: the writer did not connect within 60 s")
        return self

    def finish(self, timeout: float) -> dict:
        self.stop.set()
        stats = self.results.get(timeout=timeout)  # before join(): a process with queued data never exits
        self.process.join(60)
        if "error" in stats:
            raise RuntimeError(f"{self.process.name}: the writer failed: {stats['error']}")
        return stats

    def __exit__(self, *exc_info):
        self.stop.set()
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
