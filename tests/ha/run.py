#!/usr/bin/env python3
"""The HA end-to-end test (the backend guide's HA diagram, on loopback), for any language's API
example that follows the contract in README.md beside this file.

Starts the fake model, Redis, two CLI servers sharing one state directory, two instances of the
API (the command given by --api) and nginx balancing round-robin in front of them; then holds
20 conversations of 10 turns through nginx (conversations concurrent, turns in order), SIGKILLs
the CLI server hosting most sessions after about half the turns and starts it again (same port,
same state) a few seconds later. Checks that every turn was answered, that every session's
history holds each user message exactly once and in order, and that no two lease holds of one
session overlap (from the API instances' LEASE_LOG files); prints the failover time (kill ->
first answered turn served by the other server) over the sessions that were on the killed
server. Exits non-zero on any failure.

    python3 tests/ha/run.py --api "python3 examples/python/pool_chat_api.py"

Standard library only. Every process it starts is stopped at the end, also on failure; the
temporary directory (logs of every process) is kept when the run fails, or with --keep.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: Optional[Dict[str, Any]] = None,
            timeout: float = 300.0) -> Tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_until(cond: Any, what: str, within: float, proc: Optional[subprocess.Popen] = None,
               log: Optional[Path] = None) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if cond():
                return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}\n{tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {within} s\n{tail(log)}")
        time.sleep(0.05)


def tail(path: Optional[Path], lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last lines of {path}:\n" + "\n".join(text)


def stop(proc: Optional[subprocess.Popen], sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    """Signals the process (its whole group when it leads one) and reaps it; SIGKILL after the grace."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig) if os.getpgid(proc.pid) == proc.pid else proc.send_signal(sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL) if os.getpgid(proc.pid) == proc.pid else proc.kill()
        except ProcessLookupError:
            pass
        proc.wait()


class CliServer:
    """A CLI server (``--headless --port N``) over the shared state directory."""

    def __init__(self, name: str, cli: str, home: Path, work: Path, logs: Path) -> None:
        self.name, self.cli, self.home, self.work = name, cli, home, work
        self.log = logs / f"{name}.log"
        self.port = free_port()
        self.url = f"127.0.0.1:{self.port}"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_") and k != "HOME"}
        env.update({"HOME": str(self.home), "COPILOT_HOME": str(self.home / ".copilot")})
        out = open(self.log, "a")
        out.write(f"--- start {time.strftime('%H:%M:%S')}\n")
        out.flush()
        self.proc = subprocess.Popen([self.cli, "--headless", "--no-auto-update", "--port", str(self.port)],
                                     env=env, cwd=self.work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=out, text=True)
        stdout = self.proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + 120
        while True:
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"{self.name} exited before listening\n{tail(self.log)}")
            out.write(line)
            if "listening on port" in line.lower():
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not announce its port")
        out.flush()

        def drain() -> None:  # the CLI must never block on a full pipe
            for line in stdout:
                out.write(line)
            out.close()
        threading.Thread(target=drain, daemon=True).start()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@dataclass
class Turn:
    conv: int
    turn: int
    message: str
    start: float  # monotonic
    end: float = 0.0
    status: int = 0
    payload: Dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and (self.message in str(self.payload.get("content") or "")
                                       or bool(self.payload.get("recovered")))


class Harness:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="copilot-ha-"))
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.procs: List[subprocess.Popen] = []
        self.clis: List[CliServer] = []
        self.apis: List[Tuple[str, int, subprocess.Popen, Path, Path]] = []  # name, port, proc, log, lease log
        self.nginx_port = 0
        self.run_id = f"{int(time.time())}-{os.getpid()}"
        self.turns: List[Turn] = []
        self.lock = threading.Condition()
        self.done = 0
        self.kill_at: Optional[float] = None
        self.restart_at: Optional[float] = None
        self.victim: Optional[CliServer] = None
        self.failed: List[str] = []

    # -- processes ------------------------------------------------------------------------

    def spawn(self, argv: List[str], log: Path, **kw: Any) -> subprocess.Popen:
        out = open(log, "a")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **kw)
        out.close()
        self.procs.append(p)
        return p

    def start(self) -> None:
        a = self.args
        # The fake model: stdin kept open (it exits when stdin closes).
        fm = subprocess.Popen([a.fake_model], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(fm)
        line = fm.stdout.readline().strip()  # type: ignore[union-attr]
        if not line.startswith("fake-model listening on "):
            raise RuntimeError(f"fake model: {line!r}")
        self.provider_url = line.rsplit(" ", 1)[1]
        # Redis, no persistence.
        redis_port = free_port()
        self.spawn([a.redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--daemonize", "no"], self.logs / "redis.log")
        self.redis_url = f"redis://127.0.0.1:{redis_port}"
        wait_until(lambda: redis_ping(redis_port), "redis", 30, log=self.logs / "redis.log")
        # Two CLI servers sharing HOME / COPILOT_HOME.
        home, work = self.dir / "home", self.dir / "work"
        home.mkdir()
        work.mkdir()
        for name in ("cli-a", "cli-b"):
            c = CliServer(name, a.cli, home, work, self.logs)
            c.start()
            self.clis.append(c)
        # Two API instances.
        urls = ",".join(c.url for c in self.clis)
        for i in (1, 2):
            name, port = f"api-{i}", free_port()
            log, lease_log = self.logs / f"{name}.log", self.dir / f"lease-{name}.jsonl"
            env = {k: v for k, v in os.environ.items() if k != "COPILOT_CONNECTION_TOKEN"}
            env.update({"PORT": str(port), "COPILOT_POOL_URLS": urls, "REDIS_URL": self.redis_url,
                        "COPILOT_PROVIDER_URL": self.provider_url, "INSTANCE": name, "LEASE_LOG": str(lease_log)})
            p = self.spawn(shlex.split(a.api), log, env=env, cwd=ROOT, start_new_session=True)
            self.apis.append((name, port, p, log, lease_log))
        for name, port, p, log, _ in self.apis:
            wait_until(lambda port=port: request(port, "GET", "/healthz", timeout=5)[0] == 200,
                       f"{name} /healthz", 120, p, log)
        # nginx, round-robin over the two instances.
        self.nginx_port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(nginx_conf(self.dir, self.nginx_port, [port for _, port, *_ in self.apis]))
        ng = self.spawn([a.nginx, "-c", str(conf), "-p", str(self.dir), "-e", str(self.logs / "nginx-error.log"),
                         "-g", "daemon off;"], self.logs / "nginx.log", start_new_session=True)
        wait_until(lambda: request(self.nginx_port, "GET", "/healthz", timeout=5)[0] == 200, "nginx", 30, ng,
                   self.logs / "nginx-error.log")

    def close(self) -> None:
        for _, _, p, _, _ in self.apis:
            stop(p, signal.SIGTERM, 15)
        for p in reversed(self.procs):
            if p.stdin:
                try:
                    p.stdin.close()
                except OSError:
                    pass
            stop(p, signal.SIGTERM, 10)
        for c in self.clis:
            c.kill()

    # -- the conversations ----------------------------------------------------------------

    def conversation(self, c: int) -> None:
        sid = f"ha-{self.run_id}-{c:02d}"
        for t in range(1, self.args.turns + 1):
            turn = Turn(c, t, f"ECHO conv {c} turn {t}", time.monotonic())
            try:
                status, body = request(self.nginx_port, "POST", "/chat", {"sessionId": sid, "message": turn.message})
                turn.status = status
                try:
                    turn.payload = json.loads(body)
                except ValueError:
                    turn.error = body[:300].decode(errors="replace")
            except (OSError, http.client.HTTPException) as e:
                turn.error = repr(e)
            turn.end = time.monotonic()
            if not turn.ok:
                turn.error = turn.error or json.dumps(turn.payload)[:300]
            with self.lock:
                self.turns.append(turn)
                self.done += 1
                self.lock.notify_all()

    def run(self) -> None:
        a = self.args
        total = a.conversations * a.turns
        threads = [threading.Thread(target=self.conversation, args=(c,), daemon=True)
                   for c in range(1, a.conversations + 1)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        with self.lock:
            self.lock.wait_for(lambda: self.done >= total // 2, timeout=a.deadline)
            # The server hosting most sessions: the one that served each conversation's last turn.
            last: Dict[int, str] = {}
            for t in sorted(self.turns, key=lambda t: t.end):
                if t.status == 200 and t.payload.get("server"):
                    last[t.conv] = t.payload["server"]
            done_at_kill = self.done
        counts = {c.url: sum(1 for s in last.values() if s == c.url) for c in self.clis}
        self.victim = max(self.clis, key=lambda c: counts[c.url])
        self.victim_sessions = {conv for conv, s in last.items() if s == self.victim.url}
        self.victim.kill()
        self.kill_at = time.monotonic()
        print(f"HA: killed {self.victim.name} ({self.victim.url}, SIGKILL) after {done_at_kill}/{total} turns, "
              f"{time.monotonic() - t0:.1f} s in; sessions per server then: {counts}", flush=True)
        time.sleep(a.restart_after)
        self.victim.start()
        self.restart_at = time.monotonic()
        print(f"HA: restarted {self.victim.name} on the same port {a.restart_after:.1f} s after the kill",
              flush=True)
        for th in threads:
            th.join(max(1.0, a.deadline - (time.monotonic() - t0)))
        if any(th.is_alive() for th in threads):
            self.failed.append(f"conversations still running after {a.deadline} s")
        self.elapsed = time.monotonic() - t0

    # -- the checks -----------------------------------------------------------------------

    def check(self) -> None:
        a = self.args
        total = a.conversations * a.turns
        turns = sorted(self.turns, key=lambda t: (t.conv, t.turn))
        answered = [t for t in turns if t.ok]
        kinds: Dict[str, int] = {}
        for t in turns:
            r = t.payload.get("recovered")
            if r:
                kinds[str(r)] = kinds.get(str(r), 0) + 1
        per_instance: Dict[str, int] = {}
        for t in turns:
            i = str(t.payload.get("instance"))
            per_instance[i] = per_instance.get(i, 0) + 1
        print(f"HA: turns answered {len(answered)}/{total} in {self.elapsed:.1f} s "
              f"(recovered: {', '.join(f'{k} {v}' for k, v in sorted(kinds.items())) or 'none'}; "
              f"per instance: {per_instance})", flush=True)
        print(f"HA: continued turns {kinds.get('continued', 0)}", flush=True)
        for t in turns:
            if not t.ok:
                self.failed.append(f"conv {t.conv} turn {t.turn}: HTTP {t.status} {t.error}")
        if len(turns) != total:
            self.failed.append(f"{total - len(turns)} turns never came back")
        if len([i for i in per_instance if i != "None"]) < 2:
            self.failed.append(f"nginx did not balance over both instances: {per_instance}")

        # Failover time: kill -> the first answered turn served by the other server, per session
        # that was on the killed server.
        assert self.victim is not None and self.kill_at is not None
        times = []
        for conv in sorted(self.victim_sessions):
            after = sorted((t for t in turns if t.conv == conv and t.end > self.kill_at and t.ok), key=lambda t: t.end)
            first = next((t for t in after if t.payload.get("server") not in (None, self.victim.url)), None)
            if first is not None:
                times.append(first.end - self.kill_at)
        if times:
            print(f"HA: failover p50 {statistics.median(times):.2f} s, max {max(times):.2f} s "
                  f"({len(times)} of {len(self.victim_sessions)} sessions that were on {self.victim.name})", flush=True)
        else:
            self.failed.append("no session that was on the killed server got an answer from the other one")
        assert self.restart_at is not None
        phases = {"before the kill": [t.end - t.start for t in turns if t.end < self.kill_at],
                  "kill to restart": [t.end - t.start for t in turns if self.kill_at <= t.end < self.restart_at],
                  "after the restart": [t.end - t.start for t in turns if t.end >= self.restart_at]}
        print("HA: turn latency p50 " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in phases.items() if v)
              + " (the failover time includes one turn)", flush=True)
        back = sum(1 for t in turns if self.restart_at and t.start > self.restart_at
                   and t.payload.get("server") == self.victim.url)
        print(f"HA: turns served by {self.victim.name} after its restart: {back}", flush=True)

        # Histories: each message once, in order ("[continue] ..." prompts aside).
        bad_history = 0
        for c in range(1, a.conversations + 1):
            sid = f"ha-{self.run_id}-{c:02d}"
            want = [f"ECHO conv {c} turn {t}" for t in range(1, a.turns + 1)]
            try:
                status, body = request(self.nginx_port, "GET", "/messages?" + urllib.parse.urlencode({"sessionId": sid}))
                got = [m for m in json.loads(body).get("userMessages", []) if not str(m).startswith("[continue]")] \
                    if status == 200 else None
            except (OSError, ValueError, http.client.HTTPException) as e:
                status, got = 0, repr(e)
            if got != want:
                bad_history += 1
                self.failed.append(f"conv {c} history: HTTP {status} {got}")
        print(f"HA: histories exact {a.conversations - bad_history}/{a.conversations}", flush=True)

        # Leases: per session, no two holds overlap; tokens grow with time.
        holds: Dict[str, List[Tuple[int, int, int, str]]] = {}
        open_: Dict[Tuple[str, str, Any], int] = {}
        unreleased = 0
        for name, _, _, _, lease_log in self.apis:
            if not lease_log.exists():
                self.failed.append(f"{name} wrote no LEASE_LOG")
                continue
            for line in lease_log.read_text().splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                key = (r["instance"], r["sessionId"], r["token"])
                if r["event"] == "acquire":
                    open_[key] = int(r["t"])
                elif r["event"] == "release" and key in open_:
                    holds.setdefault(r["sessionId"], []).append((open_.pop(key), int(r["t"]), r["token"], r["instance"]))
        unreleased = len(open_)
        overlaps = token_order = 0
        for sid, hs in holds.items():
            hs.sort()
            end = -1
            prev_token = -1
            for start, stop_, token, _ in hs:
                if start < end:
                    overlaps += 1
                end = max(end, stop_)
                if token is None or token <= prev_token:
                    token_order += 1
                prev_token = token if token is not None else prev_token
        n = sum(len(h) for h in holds.values())
        print(f"HA: lease holds {n} over {len(holds)} sessions, overlaps={overlaps}, unreleased={unreleased}, "
              f"tokens out of order={token_order}", flush=True)
        if overlaps:
            self.failed.append(f"{overlaps} overlapping lease holds")
        if unreleased:
            self.failed.append(f"{unreleased} lease holds never released")
        if token_order:
            self.failed.append(f"{token_order} lease tokens did not grow")
        if n < total:
            self.failed.append(f"only {n} lease holds logged for {total} turns")

        # The instances' own counters.
        for name, port, *_ in self.apis:
            try:
                status, body = request(port, "GET", "/metrics", timeout=10)
                m = {l.split(" ")[0]: l.split(" ")[-1] for l in body.decode().splitlines()
                     if l and not l.startswith("#")}
                print(f"HA: {name} metrics: failovers {m.get('copilot_pool_failovers_total')}, leases acquired "
                      f"{m.get('copilot_pool_leases_acquired_total')}, lease waits "
                      f"{m.get('copilot_pool_lease_waits_total')}, leases lost {m.get('copilot_pool_leases_lost_total')}",
                      flush=True)
            except (OSError, http.client.HTTPException) as e:
                self.failed.append(f"{name} /metrics: {e!r}")


def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        return s.recv(64).startswith(b"+PONG")


def nginx_conf(base: Path, port: int, upstreams: List[int]) -> str:
    tmp = base / "nginx-tmp"
    tmp.mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers must reach the 0700 temp dir
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams)
    return f"""{user}worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/logs/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format ha '$remote_addr "$request" $status $upstream_addr $request_time';
  access_log {base}/logs/nginx-access.log ha;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream api {{
{servers}  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://api;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      # Round-robin; a POST that reached an instance is never sent again (nginx's default).
      proxy_next_upstream error timeout;
    }}
  }}
}}
"""


def default_cli() -> str:
    p = os.environ.get("COPILOT_CLI_PATH")
    if p:
        return p
    return subprocess.run([str(ROOT / "tests/install-cli.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--api", required=True, help="the command that starts one API instance (run from the repo root)")
    ap.add_argument("--cli", default=None, help="the Copilot CLI (default: $COPILOT_CLI_PATH or tests/install-cli.sh)")
    ap.add_argument("--fake-model", default=os.environ.get("FAKE_MODEL_BIN") or str(ROOT / "target/debug/fake-model"))
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    ap.add_argument("--conversations", type=int, default=20)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--restart-after", type=float, default=5.0, help="seconds between the kill and the restart")
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds the conversations may take in all")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = ap.parse_args()
    args.cli = args.cli or default_cli()
    if args.turns < 2:
        ap.error("--turns must be at least 2")
    h = Harness(args)
    print(f"HA: run {h.run_id} in {h.dir}", flush=True)
    ok = False
    try:
        h.start()
        h.run()
        h.check()
        ok = not h.failed
    except Exception as e:  # a setup failure: say it, clean up, exit non-zero
        h.failed.append(f"{type(e).__name__}: {e}")
    finally:
        h.close()
    for f in h.failed[:40]:
        print(f"HA FAIL: {f}", flush=True)
    if not ok:
        for name, _, _, log, _ in h.apis:
            print(tail(log, 15), flush=True)
        print(f"HA: FAILED ({len(h.failed)} problems); logs kept in {h.dir}", flush=True)
        return 1
    if args.keep:
        print(f"HA: logs kept in {h.dir}", flush=True)
    else:
        shutil.rmtree(h.dir, ignore_errors=True)
    print("HA: PASSED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
