"""A tool's web service behind the front door, driven as a maintainer drives it: over ssh
to the dev login host, `become mytool`, `toolforge webservice …`; served by the tool's
continuous job on the host's real Slurm node (gunicorn for python3.11) behind the real
Caddy, which the jobs service configures through its admin API.

Shown: the address answers within seconds and tells the tool nothing of its visitors'
addresses (nor does anything the tool can read); a killed service serves again; `stop`
gives the stopped page (503), an unknown tool the 404 page, `DOMAIN/TOOL/…` a 301 to the
tool's address; the static type; a generic server on $PORT; the php8.2 type (PHP-FPM and
a Caddy of the tool's own), which tells PHP nothing of its visitors either and ends as
one; another tool cannot enter the socket's folder, nor the front door PHP's socket; a
disabled tool shows the stopped page and comes back; Caddy restarted empty has its
routes back from the store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats import cli
from devtools.devhost import DevHost
from provisioning.worker import provision_tool
from runtime.caddy import Caddy
from tests.integration.journey import etc_snapshot
from tests.integration.loginhost_site import Site, close_site, open_site, processes
from tests.waiting import wait_until

# With the login-host tests, one after another (the suite's parallel side is the longer);
# on a directory of its own uid range all the same, so it could run beside them.
pytestmark = pytest.mark.loginhost
UIDS = (80000, 89999)
DOMAIN = "ts.example"
VISITOR = "203.0.113.7"
APP = """import json
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(3)
    seen = {key: value for key, value in environ.items() if isinstance(value, str)}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]
"""


PHP = """<?php
error_log("index.php saw " . json_encode($_SERVER));
header("Content-Type: application/json");
echo json_encode(["answer" => 6 * 7, "server" => $_SERVER]);
"""


class Web:
    def __init__(self, site: Site) -> None:
        self.site = site
        state = json.loads((site.host / "devhost.json").read_text())
        self.port = int(state["web_port"])
        self.ca = DevHost(site.host).front_door().root_cert()

    def home(self, tool: str = "mytool") -> Path:
        return self.site.host / "home" / "tools" / tool

    def webservice(self, *words: str, user: str = "alice", tool: str = "mytool") -> str:
        done = self.site.ssh.run(user, f"become {tool} toolforge webservice {' '.join(words)}")
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def get(self, host: str, path: str = "/", *headers: str) -> tuple[int, dict[str, str], str]:
        """Status, headers and body of https://HOST:PORT/PATH through the front door. A
        connection Caddy dropped (status 0) is tried once more: Caddy applies each route
        change by reloading its configuration, which, rarely, resets a connection being
        opened at that moment (about one in several thousand during changes)."""
        got = self._get(host, path, *headers)
        if got[0] == 0:
            time.sleep(0.2)
            got = self._get(host, path, *headers)
        return got

    def _get(self, host: str, path: str, *headers: str) -> tuple[int, dict[str, str], str]:
        command = ["curl", "-s", "-D", "-", "--cacert", str(self.ca), "--max-time", "10"]
        command += ["--resolve", f"{host}:{self.port}:127.0.0.1"]
        for header in headers:
            command += ["-H", header]
        done = subprocess.run(
            [*command, f"https://{host}:{self.port}{path}"],
            capture_output=True,
            text=True,
            check=False,
        )
        head, _, body = done.stdout.partition("\n\n")  # text mode: no \r left
        lines = head.splitlines()
        status = int(lines[0].split()[1]) if lines else 0
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return status, {key.lower(): value for key, value in fields.items()}, body

    def err_tail(self, tool: str = "mytool") -> str:
        path = self.home(tool) / "webservice.err"
        return "\n".join(path.read_text().splitlines()[-10:]) if path.exists() else "no log"

    def serves(self, tool: str = "mytool") -> bool:
        return self.get(f"{tool}.{DOMAIN}")[0] == 200


@pytest.fixture(scope="module")
def web() -> Iterator[Web]:
    before = etc_snapshot()
    site = open_site(uid_range=UIDS, config_extra=f'\n[web]\ndomain = "{DOMAIN}"\n')
    provision_tool(site.store, site.ldap, "othertool", ["Bob"], by="test")
    try:
        opened = Web(site)
        uid = site.tool_uid()
        app = opened.home() / "www" / "python" / "src" / "app.py"
        app.parent.mkdir(parents=True)
        app.write_text(APP)
        for path in (app, app.parent, app.parent.parent, app.parent.parent.parent):
            shutil.chown(path, uid, uid)
        yield opened
    finally:
        for log in ("runtime.log", "caddy/log/caddy.log"):
            path = site.host / log
            if path.exists():
                print(f"--- {log}\n" + "\n".join(path.read_text().splitlines()[-30:]))
        close_site(site)
    assert etc_snapshot() == before


def test_a_python_service_answers_and_learns_nothing_of_its_visitors(web: Web) -> None:
    started = time.monotonic()
    said = web.webservice("python3.11", "start")
    assert f"https://mytool.{DOMAIN}:{web.port}/" in said
    wait_until(web.serves, 30, what="the tool's address answering 200")
    print(f"\nwebservice start → 200 after {time.monotonic() - started:.1f} s")
    spoofed = (
        f"X-Forwarded-For: {VISITOR}",
        f"X-Real-IP: {VISITOR}",
        f"Forwarded: for={VISITOR}",
        f"True-Client-IP: {VISITOR}",
    )
    status, _, body = web.get(f"mytool.{DOMAIN}", "/?q=1", *spoofed)
    assert status == 200, body
    seen = json.loads(body)
    assert seen["QUERY_STRING"] == "q=1" and seen["SERVER_NAME"] == f"mytool.{DOMAIN}"
    assert VISITOR not in body and "127.0.0.1" not in body
    assert "HTTP_X_FORWARDED_FOR" not in seen and seen.get("REMOTE_ADDR", "") == ""
    status_line = web.webservice("status")
    assert "Your webservice of type python3.11 is running on backend slurm since" in status_line
    # Nor in anything the tool can read: its logs.
    for name in ("webservice.out", "webservice.err"):
        path = web.home() / name
        assert VISITOR not in (path.read_text() if path.exists() else "")


def test_a_killed_service_serves_again(web: Web) -> None:
    wait_until(web.serves, 30, what="the service up")
    masters = [p for p in processes(web.site.tool_uid(), "gunicorn") if _is_master(p)]
    assert masters, "no gunicorn master runs as the tool"
    killed = time.monotonic()
    for pid in masters:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not web.serves(), 10, interval=0.05, what="the service down")
    wait_until(web.serves, 30, interval=0.2, what="the service serving again")
    print(f"\nservice killed with -9: serving again after {time.monotonic() - killed:.1f} s")


def test_a_restart_while_a_request_runs_serves_again(web: Web) -> None:
    wait_until(web.serves, 30, what="the service up")
    old = [p for p in processes(web.site.tool_uid(), "gunicorn") if _is_master(p)]
    # The old run finishes the request in flight before it ends.
    slow = subprocess.Popen(
        ["curl", "-s", "--cacert", str(web.ca), "--max-time", "20"]
        + ["--resolve", f"mytool.{DOMAIN}:{web.port}:127.0.0.1"]
        + [f"https://mytool.{DOMAIN}:{web.port}/slow"],
        stdout=subprocess.PIPE,
    )
    time.sleep(0.5)
    restarted = time.monotonic()
    web.webservice("restart")
    out = slow.communicate(timeout=20)[0]
    assert json.loads(out)["PATH_INFO"] == "/slow"
    uid = web.site.tool_uid()
    wait_until(
        lambda: all(not Path(f"/proc/{pid}").exists() for pid in old),
        20,
        what=lambda: f"the old run ending ({processes(uid, '')}): {web.err_tail()}",
    )
    wait_until(web.serves, 10, interval=0.1, what="the new run serving")
    took = time.monotonic() - restarted
    print(f"\nrestart with a 3 s request in flight: serving again after {took:.1f} s")
    running = DevHost(web.site.host).running()
    assert running is not None
    folder = Path(f"/proc/{running.namespace_pid}/root/run/ats-web/mytool")
    names = sorted(path.name for path in folder.iterdir())
    assert len(names) == 3 and names[2] == "web.sock", names  # the new run's alone
    assert names[1] == os.readlink(folder / "web.sock") and names[0].startswith("private-")


def test_stopped_unknown_and_the_old_path_links(web: Web) -> None:
    web.webservice("stop")
    status, _, body = wait_until(
        lambda: (got := web.get(f"mytool.{DOMAIN}"))[0] == 503 and got, 10, what="the stopped page"
    )
    assert "mytool" in body and "toolforge webservice start" in body
    assert web.get(f"nosuchtool.{DOMAIN}")[0] == 404
    status, headers, _ = web.get(DOMAIN, "/mytool/some/page?q=1")
    assert status == 301
    assert headers["location"] == f"https://mytool.{DOMAIN}:{web.port}/some/page?q=1"
    assert "Your webservice is not running" in web.webservice("status")


def test_the_static_type_serves_public_html(web: Web) -> None:
    public = web.home() / "public_html"
    public.mkdir(exist_ok=True)
    (public / "index.html").write_text("<p>hello from public_html</p>\n")
    for path in (public, public / "index.html"):
        shutil.chown(path, web.site.tool_uid(), web.site.tool_uid())
    web.webservice("static", "start")
    wait_until(web.serves, 30, what="the static service")
    assert "hello from public_html" in web.get(f"mytool.{DOMAIN}", "/")[2]


def test_a_generic_service_listens_on_port(web: Web) -> None:
    uid = web.site.tool_uid()
    public = web.home() / "public_html"
    public.mkdir(exist_ok=True)
    (public / "port.txt").write_text("served on $PORT\n")
    # A script, as many tools have (`become` hands its words to the tool's shell, which
    # would fill in a $PORT written on the command line there and then).
    serve = web.home() / "serve.sh"
    serve.write_text('#!/bin/sh\nexec python3 -m http.server "$PORT" -b 127.0.0.1 -d public_html\n')
    serve.chmod(0o755)
    for path in (public / "port.txt", serve):
        shutil.chown(path, uid, uid)
    web.webservice("stop")
    web.webservice("generic", "start", "--command", "./serve.sh")
    wait_until(lambda: web.get(f"mytool.{DOMAIN}", "/port.txt")[0] == 200, 30, what="generic")
    got = web.get(f"mytool.{DOMAIN}", "/port.txt", f"X-Forwarded-For: {VISITOR}")
    assert got[2] == "served on $PORT\n"
    assert "Your webservice of type generic is running" in web.webservice("status")
    assert VISITOR not in (web.home() / "webservice.err").read_text()


def test_the_php_type_serves_public_html_with_php_and_learns_nothing_of_visitors(
    web: Web,
) -> None:
    # othertool's, so that mytool's service stays up for the tests after this one.
    tool, host = "othertool", f"othertool.{DOMAIN}"
    assert web.site.ssh.until("bob", "become othertool true").returncode == 0  # SSSD's rule
    account = web.site.ldap.describe(tool)
    assert account is not None
    public = web.home(tool) / "public_html"
    public.mkdir()
    files = {"index.php": PHP, "hello.txt": "hello as a file\n", "secret.inc": "x\n"}
    for path in (public, *(public / name for name in files)):
        if path != public:
            path.write_text(files[path.name])
        shutil.chown(path, account.uid, account.uid)
    started = time.monotonic()
    web.webservice("php8.2", "start", user="bob", tool=tool)

    def answers() -> bool:
        status, _, body = web.get(host)
        return status == 200 and '"answer":42' in body

    wait_until(answers, 10, what=lambda: "PHP's answer: " + web.err_tail(tool))
    print(f"\nwebservice php8.2 start → PHP's 200 after {time.monotonic() - started:.1f} s")
    spoofed = (f"X-Forwarded-For: {VISITOR}", f"X-Real-IP: {VISITOR}", f"Forwarded: for={VISITOR}")
    status, _, body = web.get(host, "/?q=1", *spoofed)
    assert status == 200, body
    seen = json.loads(body)["server"]
    assert seen["QUERY_STRING"] == "q=1" and seen["SERVER_NAME"] == host
    assert seen["SCRIPT_FILENAME"] == f"/home/tools/{tool}/public_html/index.php"
    leaked = {key: value for key, value in seen.items() if VISITOR in str(value)}
    assert leaked == {} and VISITOR not in body
    # Nor the client's own (curl's, on 127.0.0.1); Slurm's variables name its controller.
    local = {k: v for k, v in seen.items() if "127.0.0.1" in str(v) and not k.startswith("SLURM")}
    assert local == {}
    assert seen["REMOTE_ADDR"] in ("", "@"), seen["REMOTE_ADDR"]  # a Unix socket's peer
    for header in ("X_FORWARDED_FOR", "X_REAL_IP", "FORWARDED"):
        assert f"HTTP_{header}" not in seen
    said = web.webservice("status", user="bob", tool=tool)
    assert "Your webservice of type php8.2 is running" in said
    status, headers, body = web.get(host, "/hello.txt")
    assert (status, body) == (200, "hello as a file\n")
    assert headers["content-type"].startswith("text/plain")
    assert web.get(host, "/secret.inc")[0] == 404  # as Toolforge's lighttpd
    # PHP's log reaches the tool's webservice.err, and holds no visitor's address.
    err = web.home(tool) / "webservice.err"
    wait_until(lambda: "index.php saw" in web.err_tail(tool), 5, what="PHP's line in the log")
    for name in ("webservice.out", "webservice.err"):
        path = web.home(tool) / name
        assert VISITOR not in (path.read_text() if path.exists() else "")
    # PHP's socket is the tool's alone: neither another tool nor the front door reaches it.
    running = DevHost(web.site.host).running()
    assert running is not None
    folder = Path(f"/proc/{running.namespace_pid}/root/run/ats-web/{tool}")
    (private,) = folder.glob("private-*")  # the run's own
    fpm = f"/run/ats-web/{tool}/{private.name}/php-fpm.sock"
    other = web.site.ssh.run("alice", f"become mytool curl -s --unix-socket {fpm} http://x/")
    assert other.returncode == 7, other  # curl: could not connect
    door = [*web.site.nsenter, "runuser", "-u", "caddy", "--", "ls", fpm]
    entered = subprocess.run(door, capture_output=True, text=True, check=False)
    assert entered.returncode != 0 and "Permission denied" in entered.stderr
    # PHP-FPM and Caddy end as one: one killed, the other stops and the job starts again.
    caddy = processes(account.uid, "caddy run")
    masters = processes(account.uid, "php-fpm: master")
    assert len(caddy) == 1 and len(masters) == 1
    killed = time.monotonic()
    os.kill(masters[0], signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{caddy[0]}").exists(), 10, what="its Caddy stopped")
    wait_until(answers, 30, interval=0.2, what=lambda: "serving again: " + web.err_tail(tool))
    print(f"php-fpm killed with -9: serving again after {time.monotonic() - killed:.1f} s")
    assert "ats-webservice: php-fpm8.2 ended (status 137)" in err.read_text()
    web.webservice("stop", user="bob", tool=tool)
    wait_until(lambda: web.get(host)[0] == 503, 10, what="the stopped page")
    wait_until(lambda: not processes(account.uid, "php-fpm"), 10, what="PHP-FPM ended")
    assert not processes(account.uid, "caddy run")


def test_another_tool_cannot_enter_the_sockets_folder(web: Web) -> None:
    wait_until(web.serves, 30, what="the service up")
    # SSSD takes the new tool's sudo rule in a while.
    assert web.site.ssh.until("bob", "become othertool true").returncode == 0
    other = web.site.ssh.run("bob", "become othertool ls /run/ats-web/mytool")
    assert other.returncode != 0 and "Permission denied" in other.stderr
    mine = web.site.ssh.run("alice", "become mytool ls /run/ats-web/mytool")
    assert mine.returncode == 0 and "web.sock" in mine.stdout
    # Nor the front door's ports: 443 and 80 are privileged, and its own are held.
    for port in (443, 80, web.port):
        bind = f'import socket; socket.socket().bind(("0.0.0.0", {port}))'
        taken = web.site.ssh.run("bob", f"become othertool python3 -c '{bind}'")
        assert taken.returncode != 0, port
        assert ("PermissionError" if port < 1024 else "Address already in use") in taken.stderr


def test_a_disabled_tool_shows_the_stopped_page(web: Web) -> None:
    config = str(web.site.config)
    assert (
        cli.main(["--config", config, "tools", "disable", "mytool", "--reason", "x", "--by", "A"])
        == 0
    )
    wait_until(lambda: web.get(f"mytool.{DOMAIN}")[0] == 503, 20, what="the stopped page")
    assert cli.main(["--config", config, "tools", "enable", "mytool", "--by", "A"]) == 0
    wait_until(web.serves, 30, what="serving again")


@pytest.mark.process
def test_caddy_restarted_empty_gets_its_routes_back(web: Web) -> None:
    door = DevHost(web.site.host).front_door()
    state = door.state()
    assert state is not None
    config = json.loads(door.config_file.read_text())
    host = DevHost(web.site.host)
    running = host.running()
    assert running is not None
    door.stop()
    door.start({"admin": config["admin"]}, host.enter(running))  # nothing but its admin API
    started = time.monotonic()
    wait_until(web.serves, 30, what="the routes back from the store")
    print(f"\nCaddy restarted empty: serving again after {time.monotonic() - started:.1f} s")
    # A route taken away behind the service's back is drift, and --fix puts it back.
    caddy = Caddy(config["admin"]["listen"])
    served = Path(f"/proc/{running.runtime_pid}/cmdline").read_bytes().rstrip(b"\0")
    words = [word.decode() for word in served.split(b"\0")]
    given = words[words.index("serve") + 1 :]
    web_flags = [
        word
        for flag, value in zip(given[::2], given[1::2], strict=True)
        if flag.startswith(("--web-", "--socket-root"))
        for word in (flag, value)
    ]
    reconcile = [*web.site.nsenter, *words[: words.index("runtime")], "runtime", "reconcile"]
    reconcile += web_flags
    os.kill(running.runtime_pid, signal.SIGSTOP)  # the service would put it back at once
    try:
        caddy.delete_route("mytool")
        found = subprocess.run(reconcile, capture_output=True, text=True, check=False)
        assert found.returncode == 1 and "front door: mytool" in found.stdout, found.stdout
        fixed = subprocess.run([*reconcile, "--fix"], capture_output=True, text=True, check=False)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert web.serves()
    finally:
        os.kill(running.runtime_pid, signal.SIGCONT)


def _is_master(pid: int) -> bool:
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])
        return "gunicorn" not in Path(f"/proc/{parent}/cmdline").read_bytes().decode(
            errors="replace"
        )
    except (OSError, ValueError, IndexError):
        return False
