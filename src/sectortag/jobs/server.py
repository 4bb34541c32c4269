"""`make mlflow-server`: a shared MLflow tracking server on a throw-away PostgreSQL cluster, for a team.

`python -m sectortag.jobs.server start|stop|status [--folder .mlflow-server] [--host 127.0.0.1] [--port 5050]
[--pg-port 5433]`. Everything lives in one folder (git-ignored): `pg/` the PostgreSQL cluster (runs, metrics,
versions, aliases), `artifacts/` the files the server stores (models, reports), `logs/` both logs,
`pgpass` the database password (0600; it never appears on a command line) and `state.json` the process ids.

PostgreSQL listens on loopback only, with a random password (scram-sha-256), so that no other local user can
reach it. Run as root, `initdb` and the postmaster run as the `postgres` user (initdb refuses root). The MLflow
server runs from this Python (`sys.executable -m mlflow`) in its own process group, so that stopping it
stops its uvicorn workers too.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import SectorTagError
from ..files import replaced_atomically

FOLDER = Path(".mlflow-server")
HOST, PORT, PG_PORT = "127.0.0.1", 5050, 5433  # 5000 is `make mlflow-ui`'s, 5432 a system PostgreSQL's
DB_USER = DB_NAME = "mlflow"
INSTALL_HINT = ("install Debian's postgresql (`sudo make system-deps`, or `sudo apt-get install postgresql`) "
                "or put its bin folder on PATH")


@dataclass
class State:
    """What `start` recorded: the two process ids and where they listen."""

    pg_pid: int
    pg_port: int
    mlflow_pid: int
    host: str
    port: int

    @property
    def uri(self) -> str:
        return f"http://{_client_host(self.host)}:{self.port}"


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def pg_bin() -> Path:
    """The folder of PostgreSQL's `initdb`/`pg_ctl`: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise SectorTagError(f"PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; "
                         f"{INSTALL_HINT}")


def _as_postgres(cmd: list[str]) -> list[str]:
    """As root, run a PostgreSQL binary as the `postgres` user (initdb and the postmaster refuse root), through
    util-linux's `runuser` (in /usr/sbin or /sbin, which a root PATH may lack)."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if Path(p).is_file()), None)
    if runuser is None:
        raise SectorTagError("running as root, but `runuser` (util-linux) is not found to run PostgreSQL as the "
                             "`postgres` user; install util-linux or run as another user")
    return [runuser, "-u", "postgres", "--", *cmd]


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise SectorTagError("running as root, but there is no `postgres` user to run PostgreSQL as; "
                                 f"{INSTALL_HINT}") from None
        os.chown(path, user.pw_uid, user.pw_gid)


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        if log is not None and log.is_file():  # the server's own reason beats pg_ctl's "examine the log output"
            detail += [line.split("FATAL:", 1)[1].strip() for line in log.read_text(errors="replace").splitlines()
                       if "FATAL:" in line][-1:]
        where = f"; see {log}" if log else ""
        raise SectorTagError(f"{what} failed: {detail[-1] if detail else f'exit {proc.returncode}'}{where}")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, …), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (a child of ours that ended is reaped first)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    fields = _stat(pid) if pid > 0 else None
    return fields is not None and fields[0] != "Z"


def _group_running(pgid: int) -> bool:
    process_running(pgid)  # reap the group leader if it is our child
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _health(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{_client_host(host)}:{port}/health", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _check_port_free(host: str, port: int, option: str) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: a listener blocks, TIME_WAIT not
        try:
            s.bind((host, port))
        except OSError as e:
            raise SectorTagError(f"port {port} on {host} is taken ({e.strerror}): another server listens there; "
                                 f"stop it or choose another {option}") from None


def read_state(folder: Path = FOLDER) -> State | None:
    try:
        return State(**json.loads((folder / "state.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_state(folder: Path, state: State) -> None:
    with replaced_atomically(folder / "state.json") as tmp:
        tmp.write_text(json.dumps(asdict(state), indent=1))


def _pg_pid(folder: Path) -> int | None:
    """The postmaster's pid from its own postmaster.pid, when that process is alive."""
    try:
        pid = int((folder / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if process_running(pid) and "postgres" in _cmdline(pid) else None


def _mlflow_running(state: State | None) -> bool:
    return (state is not None and process_running(state.mlflow_pid) and "mlflow" in _cmdline(state.mlflow_pid)
            and _health(state.host, state.port))


def _password_file(folder: Path) -> Path:
    """The libpq password file (0600) holding the cluster's random password, created with the cluster."""
    return folder / "pgpass"


def init_cluster(folder: Path, bindir: Path) -> bool:
    """Create the cluster under folder/pg once (superuser `mlflow`, random password, loopback only, no Unix
    socket); returns whether it was created now."""
    data = folder / "pg"
    if (data / "PG_VERSION").is_file():
        return False
    if data.exists():  # a half-made cluster of an interrupted first start
        shutil.rmtree(data)
    password = secrets.token_urlsafe(24)
    passfile = _password_file(folder)
    with replaced_atomically(passfile) as tmp:
        tmp.touch(mode=0o600)
        tmp.write_text(f"*:*:*:{DB_USER}:{password}\n")
    data.mkdir(mode=0o700)
    _give_to_postgres(data)
    pwfile = folder / ".initdb-password"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    _give_to_postgres(pwfile)
    try:
        _run(_as_postgres([str(bindir / "initdb"), "-D", str(data.resolve()), "-U", DB_USER, "--auth=scram-sha-256",
                           f"--pwfile={pwfile.resolve()}", "-E", "UTF8", "--locale=C.UTF-8"]),
             f"initdb in {data} (the `postgres` user must be able to reach that folder)")
    finally:
        pwfile.unlink(missing_ok=True)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write("\n# sectortag: loopback TCP only\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
    return True


def start_postgres(folder: Path, bindir: Path, pg_port: int, timeout: float = 60) -> int:
    """Start the cluster on 127.0.0.1:pg_port (unless it already runs) and create the database; its pid."""
    pid = _pg_pid(folder)
    log = folder / "logs" / "postgres.log"
    if pid is None:
        _check_port_free("127.0.0.1", pg_port, "--pg-port")
        log.touch()
        _give_to_postgres(log)
        _run(_as_postgres([str(bindir / "pg_ctl"), "-D", str((folder / "pg").resolve()), "-l", str(log.resolve()),
                           "-o", f"-p {int(pg_port)}", "-w", "-t", str(int(timeout)), "start"]),
             f"PostgreSQL on 127.0.0.1:{pg_port}", log)
        pid = _pg_pid(folder)
        if pid is None:
            raise SectorTagError(f"PostgreSQL did not stay up; see {log}")
    _create_database(folder, pg_port)
    return pid


def _create_database(folder: Path, pg_port: int) -> None:
    try:
        import psycopg
    except ImportError:
        raise SectorTagError("psycopg is missing: install the project's `db` extra (pip install -e '.[db]')") from None
    try:
        with psycopg.connect(host="127.0.0.1", port=pg_port, user=DB_USER, dbname="postgres", autocommit=True,
                             passfile=str(_password_file(folder).resolve())) as db:
            if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
                db.execute(f'CREATE DATABASE "{DB_NAME}"')
    except psycopg.Error as e:
        raise SectorTagError(f"PostgreSQL on 127.0.0.1:{pg_port}: {str(e).strip().splitlines()[0]}; "
                             f"see {folder / 'logs' / 'postgres.log'}") from None


def backend_uri(pg_port: int) -> str:
    """The backend store URI (no password: the server reads it from the PGPASSFILE in its environment)."""
    return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{pg_port}/{DB_NAME}"


def start_mlflow(folder: Path, host: str, port: int, pg_port: int, workers: int = 2, timeout: float = 120,
                 allowed_hosts: str | None = None) -> int:
    """Start `mlflow server` on the database in its own process group and wait until /health answers."""
    _check_port_free(host, port, "--port")
    log = folder / "logs" / "mlflow.log"
    (folder / "artifacts").mkdir(exist_ok=True)
    env = {**os.environ, "PGPASSFILE": str(_password_file(folder).resolve()),
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # GenAI jobs: not used, and extra processes
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri(pg_port),
           "--artifacts-destination", str((folder / "artifacts").resolve()),
           "--host", host, "--port", str(port), "--workers", str(workers)]
    if allowed_hosts:  # the names other machines reach it by (MLflow accepts localhost and private IPs by default)
        cmd += ["--allowed-hosts", allowed_hosts]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not _health(host, port, timeout=1):
        if proc.poll() is not None:
            raise SectorTagError(f"mlflow server exited with code {proc.returncode} before answering; see {log}")
        if time.monotonic() > deadline:
            _stop_group(proc.pid)
            raise SectorTagError(f"mlflow server did not answer http://{_client_host(host)}:{port}/health within "
                                 f"{timeout:.0f} s; see {log}")
        time.sleep(0.25)
    return proc.pid


def start(folder: Path = FOLDER, host: str = HOST, port: int = PORT, pg_port: int = PG_PORT, workers: int = 2,
          timeout: float = 120, allowed_hosts: str | None = None, say=print) -> State:
    """Create (once) and start PostgreSQL, then the MLflow server on it; record both pids. When both already
    run, say so and return the recorded state."""
    folder = Path(folder)
    state = read_state(folder)
    if state is not None and _mlflow_running(state) and _pg_pid(folder) == state.pg_pid:
        say(f"already running: MLflow server pid {state.mlflow_pid} at {state.uri}, PostgreSQL pid {state.pg_pid} "
            f"on 127.0.0.1:{state.pg_port}")
        return state
    if state is not None and process_running(state.mlflow_pid) and "mlflow" in _cmdline(state.mlflow_pid):
        _stop_group(state.mlflow_pid)  # a server that stopped answering
    bindir = pg_bin()
    _check_port_free(host, port, "--port")  # before PostgreSQL starts, so a taken port leaves nothing running
    for sub in ("logs", "artifacts"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if init_cluster(folder, bindir):
        say(f"created a PostgreSQL cluster in {folder / 'pg'} ({time.perf_counter() - t0:.1f} s)")
    pg_pid = start_postgres(folder, bindir, pg_port)
    # the pids are recorded as soon as each process exists, so `stop` finds them even if the rest fails
    _write_state(folder, State(pg_pid, pg_port, 0, host, port))
    t1 = time.perf_counter()
    mlflow_pid = start_mlflow(folder, host, port, pg_port, workers, timeout, allowed_hosts)
    state = State(pg_pid, pg_port, mlflow_pid, host, port)
    _write_state(folder, state)
    say(f"PostgreSQL pid {pg_pid} on 127.0.0.1:{pg_port}; MLflow server pid {mlflow_pid} answered in "
        f"{time.perf_counter() - t1:.1f} s; data in {folder}/")
    return state


def _stop_group(pid: int, timeout: float = 20) -> None:
    """SIGTERM the server's process group (the mlflow CLI and its uvicorn workers), SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _group_running(pid):
                return
            time.sleep(0.1)


def stop(folder: Path = FOLDER, say=print) -> None:
    """Stop the MLflow server and PostgreSQL by their recorded process ids."""
    folder = Path(folder)
    state = read_state(folder)
    if state is None:
        say(f"nothing recorded in {folder / 'state.json'}: no server was started from {folder}")
        return
    if state.mlflow_pid and process_running(state.mlflow_pid) and "mlflow" in _cmdline(state.mlflow_pid):
        _stop_group(state.mlflow_pid)
        say(f"stopped the MLflow server (pid {state.mlflow_pid})")
    else:
        say("the MLflow server was not running")
    if _pg_pid(folder) == state.pg_pid:
        _run(_as_postgres([str(pg_bin() / "pg_ctl"), "-D", str((folder / "pg").resolve()), "-m", "fast", "-w",
                           "stop"]), "pg_ctl stop", folder / "logs" / "postgres.log")
        say(f"stopped PostgreSQL (pid {state.pg_pid}); the data stays in {folder / 'pg'}")
    else:
        say("PostgreSQL was not running")
    (folder / "state.json").unlink(missing_ok=True)


def status(folder: Path = FOLDER) -> str:
    """One line per process: running or not, where."""
    folder = Path(folder)
    state = read_state(folder)
    if state is None:
        return f"not started (no {folder / 'state.json'})"
    pg = "running" if _pg_pid(folder) == state.pg_pid else "not running"
    ml = "answering" if _mlflow_running(state) else "not answering"
    return (f"PostgreSQL pid {state.pg_pid} on 127.0.0.1:{state.pg_port}: {pg}\n"
            f"MLflow server pid {state.mlflow_pid} at {state.uri}: {ml}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sectortag.jobs.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--folder", type=Path, default=FOLDER, help=f"where everything lives (default {FOLDER})")
    parser.add_argument("--host", default=HOST, help=f"the MLflow server's address (default {HOST}; 0.0.0.0 for a "
                                                     f"team, behind a firewall: MLflow has no login by default)")
    parser.add_argument("--port", type=int, default=PORT, help=f"the MLflow server's port (default {PORT})")
    parser.add_argument("--pg-port", type=int, default=PG_PORT, help=f"PostgreSQL's loopback port (default {PG_PORT})")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the MLflow server (default 2)")
    parser.add_argument("--allowed-hosts", help="Host names other machines use, e.g. mlbox.example.org:5050 "
                                                "(passed to mlflow server; default: localhost and private IPs)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for /health (default 120)")
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            state = start(args.folder, args.host, args.port, args.pg_port, args.workers, args.timeout,
                          args.allowed_hosts)
            print(f"export MLFLOW_TRACKING_URI={state.uri}")
            if state.host != _client_host(state.host):
                import socket

                print(f"# from other machines: export MLFLOW_TRACKING_URI=http://{socket.getfqdn()}:{state.port}")
        elif args.action == "stop":
            stop(args.folder)
        else:
            print(status(args.folder))
    except SectorTagError as e:
        print(f"sectortag server {args.action}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
