#!/usr/bin/env python3
"""sockact.py: plays systemd's part in socket activation for the tests.

It binds and listens on the sockets itself, then starts the daemon with
them as descriptors 3, 4, ... and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES set
exactly as systemd does (sd_listen_fds(3)): fork, then in the child move
the sockets into place, set LISTEN_PID to the child's own pid and exec.
The sockets stay open in this process for as long as it runs, as they do
in systemd while scopegate.service restarts.

  sockact.py [options] SOCKET... -- COMMAND...
      SOCKET is NAME=ADDRESS:PORT (NAME "-" passes no LISTEN_FDNAMES).

  --once          start COMMAND once, exit with its status (a start that
                  must fail) or 0 once it is serving (--started)
  --restart       start it, run clients, SIGTERM it, start it again
                  (the sockets kept), run the clients on, stop it; print
                  a JSON summary of the clients' attempts
  --log FILE      the daemon's stderr (appended); "started:" lines in it
                  tell when a start is serving
  --client SPEC   (with --restart) one client thread: URL with http or
                  https, e.g. http://127.0.0.1:8080/path
  --header H      sent by every client ("Authorization: Bearer ...")
  --cafile FILE   trusted CA of the https clients
  --serve FILE    start it, write its pid into FILE once it serves, and
                  wait for it to exit (the caller signals it); exit with
                  its status
  --pid-env       set LISTEN_PID to this process's pid instead (the
                  variables then are not for the daemon)
  --fdnames S     LISTEN_FDNAMES=S instead of the sockets' names
  A NAME starting with "!" is bound but not listening.
"""
import http.client
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse


def parse_args(argv):
    opts = {"mode": "once", "log": None, "clients": [], "headers": [],
            "cafile": None, "pid_env": False, "sockets": [], "cmd": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            opts["cmd"] = argv[i + 1:]
            break
        if a in ("--once", "--restart"):
            opts["mode"] = a[2:]
        elif a == "--pid-env":
            opts["pid_env"] = True
        elif a == "--serve":
            i += 1
            opts["mode"], opts["pid_file"] = "serve", argv[i]
        elif a == "--fdnames":
            i += 1
            opts["fdnames"] = argv[i]
        elif a in ("--log", "--cafile"):
            i += 1
            opts[a[2:]] = argv[i]
        elif a == "--client":
            i += 1
            opts["clients"].append(argv[i])
        elif a == "--header":
            i += 1
            opts["headers"].append(argv[i])
        else:
            name, addr = a.split("=", 1)
            host, port = addr.rsplit(":", 1)
            opts["sockets"].append((name, host.strip("[]"), int(port)))
        i += 1
    return opts


def bind_all(specs):
    socks = []
    for name, host, port in specs:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind((host, port))
        if not name.startswith("!"):
            s.listen(1024)
        socks.append(s)
    return socks


def spawn(opts, socks, log):
    names = [n for n, _, _ in opts["sockets"]]
    pid = os.fork()
    if pid == 0:
        try:
            # Out of the way first, so that moving one into 3.. never
            # overwrites another not yet moved.
            high = [os.dup2(s.fileno(), 200 + k) for k, s in enumerate(socks)]
            for k, fd in enumerate(high):
                os.dup2(fd, 3 + k)  # inheritable, as systemd passes them
            for fd in high:
                os.close(fd)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 2)
            env = dict(os.environ)
            env["LISTEN_FDS"] = str(len(socks))
            env["LISTEN_PID"] = str(os.getppid() if opts["pid_env"] else os.getpid())
            if "fdnames" in opts:
                env["LISTEN_FDNAMES"] = opts["fdnames"]
            elif "-" not in names:
                env["LISTEN_FDNAMES"] = ":".join(n.lstrip("!") for n in names)
            os.execve(opts["cmd"][0], opts["cmd"], env)
        finally:
            os._exit(127)
    return pid


EXITED = {}


def reap(pid):
    """The exit code of pid, waiting for it unless wait_started saw it."""
    if pid in EXITED:
        return EXITED.pop(pid)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def started_lines(log):
    try:
        with open(log) as f:
            return sum(1 for line in f if " started: " in line)
    except FileNotFoundError:
        return 0


def wait_started(pid, log, before, timeout=60):
    """True once the log has a new 'started:' line; False if pid exits."""
    end = time.time() + timeout
    while time.time() < end:
        if started_lines(log) > before:
            return True
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            EXITED[pid] = os.waitstatus_to_exitcode(status)
            return False
        time.sleep(0.02)
    return False


class Client(threading.Thread):
    def __init__(self, url, headers, cafile, stop):
        super().__init__(daemon=True)
        self.u = urllib.parse.urlsplit(url)
        self.headers = dict(h.split(": ", 1) for h in headers)
        self.headers["Connection"] = "close"
        self.ctx = None
        if self.u.scheme == "https":
            self.ctx = ssl.create_default_context(cafile=cafile)
            self.ctx.check_hostname = False
        self.stop = stop
        self.attempts = 0
        self.statuses = {}
        self.failures = []

    def run(self):
        while not self.stop.is_set():
            self.attempts += 1
            try:
                if self.ctx is not None:
                    c = http.client.HTTPSConnection(self.u.hostname, self.u.port,
                                                    timeout=30, context=self.ctx)
                else:
                    c = http.client.HTTPConnection(self.u.hostname, self.u.port,
                                                   timeout=30)
                c.request("GET", self.u.path, headers=self.headers)
                r = c.getresponse()
                r.read()
                self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                c.close()
            except Exception as e:  # every kind of failure counts
                self.failures.append("%s: %r" % (self.u.scheme, e))


def stop_daemon(pid):
    os.kill(pid, signal.SIGTERM)
    return reap(pid)


def main():
    opts = parse_args(sys.argv[1:])
    socks = bind_all(opts["sockets"])
    log = opts["log"] or "/dev/null"
    before = started_lines(log)
    pid = spawn(opts, socks, log)
    if opts["mode"] == "serve":
        if wait_started(pid, log, before):
            with open(opts["pid_file"] + ".tmp", "w") as f:
                f.write("%d\n" % pid)
            os.rename(opts["pid_file"] + ".tmp", opts["pid_file"])
        return reap(pid)
    if opts["mode"] == "once":
        if wait_started(pid, log, before):
            stop_daemon(pid)
            print("started")
            return 0
        code = reap(pid)
        print("exited %d" % code)
        return code
    summary = {"starts": 0}
    if not wait_started(pid, log, before):
        print(json.dumps({"error": "first start failed"}))
        return 1
    summary["starts"] += 1
    stop = threading.Event()
    clients = [Client(u, opts["headers"], opts["cafile"], stop) for u in opts["clients"]]
    for c in clients:
        c.start()
    time.sleep(0.7)
    # systemctl restart: stop (drain, exit), then start, the sockets held
    # here throughout.
    before = started_lines(log)
    summary["attempts_before_stop"] = sum(c.attempts for c in clients)
    summary["first_exit"] = stop_daemon(pid)
    t0 = time.time()
    pid = spawn(opts, socks, log)
    if wait_started(pid, log, before):
        summary["starts"] += 1
    summary["restart_s"] = round(time.time() - t0, 3)
    time.sleep(0.7)
    stop.set()
    for c in clients:
        c.join(60)
    summary["second_exit"] = stop_daemon(pid)
    summary["attempts"] = sum(c.attempts for c in clients)
    summary["failures"] = [f for c in clients for f in c.failures]
    statuses = {}
    for c in clients:
        for k, v in c.statuses.items():
            statuses[str(k)] = statuses.get(str(k), 0) + v
    summary["statuses"] = statuses
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
