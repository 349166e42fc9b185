"""Member jobs racing each other, against a real slapd and the Unix backend under a
throwaway root: a keys job and a suspend, a restore queued while a suspend runs —
with the timing forced (one worker held mid-job by its hook) and over many natural
rounds with two workers. Whatever the order, the account ends as the store says:
the key the member removed never comes back, the key they added is never lost, and
a restored member has their shell and keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ldap3
import pytest

from membership import accounts
from membership.store import Store
from provisioning import ldap_connection
from provisioning.backend import NOLOGIN, Account, Backend, Desired, ProvisioningError
from provisioning.ldap import LdapBackend
from provisioning.unix import UnixBackend
from provisioning.worker import provision_person, run_once
from tests.integration.slapd import Slapd
from tests.integration.unixroot import unix_root

K1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1 k1"
K2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2dFh0eKJb3yQb2m9o2fWn8i0pXc5Q0v8ZpYk3wTnqz k2"
ROUNDS = 20


@pytest.fixture(params=["ldap", "unix"])
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Backend]]:
    """A factory of backends on one directory (each worker thread takes its own)."""
    if request.param == "unix":
        root = unix_root(tmp_path)
        yield lambda: UnixBackend(root)
        return
    server = Slapd.start()
    made: list[LdapBackend] = []

    def ldap() -> Backend:
        made.append(LdapBackend(server.url, server.base_dn, server.root_dn, server.password))
        return made[-1]

    try:
        yield ldap
    finally:
        for backend in made:
            backend.close()
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "ats.sqlite")
    yield opened
    opened.close()


def _member(store: Store, backend: Backend, wiki_user: str) -> str:
    store.add_ssh_key(wiki_user, type="ssh-ed25519", bits=256, key=K1, fingerprint="SHA256:k1")
    return provision_person(store, backend, wiki_user, [K1]).name


def _replace_k1_with_k2(store: Store, wiki_user: str) -> None:
    """What the bridge does when the member removes k1 and adds k2."""
    [old] = store.ssh_keys(wiki_user)
    store.remove_ssh_key(wiki_user, old.id)
    store.add_ssh_key(wiki_user, type="ssh-ed25519", bits=256, key=K2, fingerprint="SHA256:k2")
    accounts.keys_changed(store, wiki_user)


def _account(backend: Backend, name: str) -> Account:
    account = backend.describe(name)
    assert account is not None
    return account


def _live_keys(backend: Backend, name: str) -> tuple[str, ...]:
    [seen] = [o for o in backend.observe() if o.account.name == name]
    return seen.live_keys


class Held:
    """A worker thread whose job stops at `stage` until `go()`."""

    def __init__(self, path: Path, backend: Backend, stage: str) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        self.stage = stage
        self.outcomes: list = []
        self.thread = threading.Thread(target=self._run, args=(path, backend), daemon=True)
        self.thread.start()
        assert self.reached.wait(20), f"the worker never reached {stage!r}"

    def _hook(self, stage: str) -> None:
        if stage == self.stage:
            self.reached.set()
            assert self.release.wait(20)

    def _run(self, path: Path, backend: Backend) -> None:
        store = Store(path)
        try:
            self.outcomes.append(run_once(store, backend, worker="held", hook=self._hook))
        finally:
            store.close()

    def go(self) -> None:
        self.release.set()
        self.thread.join(20)
        assert not self.thread.is_alive()


def _drain(store: Store, backend: Backend, worker: str = "other") -> list:
    out = []
    while (outcome := run_once(store, backend, worker=worker)) is not None:
        out.append(outcome)
    return out


@pytest.mark.parametrize("first", ["suspend", "keys"])
@pytest.mark.parametrize("stage", ["read", "provisioned"])
def test_keys_and_suspend_forced(
    backends: Callable[[], Backend], store: Store, first: str, stage: str
) -> None:
    backend = backends()
    name = _member(store, backend, "Jane Doe")
    if first == "suspend":
        accounts.enqueue_suspend(store, "Jane Doe", "membership lapsed")
        held = Held(store.path, backends(), stage)
        _replace_k1_with_k2(store, "Jane Doe")
    else:
        _replace_k1_with_k2(store, "Jane Doe")
        held = Held(store.path, backends(), stage)
        accounts.enqueue_suspend(store, "Jane Doe", "membership lapsed")
    # The member's job is running: a second worker passes over the member.
    assert store.member_lease_holder("Jane Doe") == "held"
    assert run_once(store, backend, worker="other") is None
    held.go()
    _drain(store, backend)
    assert store.member_lease_holder("Jane Doe") is None
    suspended = _account(backend, name)
    assert suspended.suspended and suspended.keys == (K2,) and suspended.shell == NOLOGIN
    assert _live_keys(backend, name) == ()

    accounts.enqueue_restore(store, "Jane Doe")
    _drain(store, backend)
    restored = _account(backend, name)
    assert not restored.suspended and restored.shell == "/bin/bash"
    assert _live_keys(backend, name) == (K2,)
    assert {j.state for j in store.member_jobs("Jane Doe")} == {"done"}


@pytest.mark.parametrize("stage", ["read", "provisioned"])
def test_restore_queued_while_a_suspend_runs(
    backends: Callable[[], Backend], store: Store, stage: str
) -> None:
    backend = backends()
    name = _member(store, backend, "Jane Doe")
    accounts.enqueue_suspend(store, "Jane Doe", "membership lapsed")
    held = Held(store.path, backends(), stage)
    accounts.enqueue_restore(store, "Jane Doe")  # the member paid meanwhile
    assert run_once(store, backend, worker="other") is None
    held.go()
    _drain(store, backend)
    restored = _account(backend, name)
    assert not restored.suspended and restored.shell == "/bin/bash"
    assert _live_keys(backend, name) == (K1,)


def _two_workers(path: Path, backends: Callable[[], Backend], during: Callable[[], None]) -> None:
    """Two workers run until no job is left; `during` runs once they have started."""
    started, errors = threading.Barrier(3), []

    def work(worker: str, backend: Backend) -> None:
        store = Store(path)
        try:
            started.wait()
            idle_since = None
            while True:
                if run_once(store, backend, worker=worker) is not None:
                    idle_since = None
                    continue
                open_jobs = [j for j in store.jobs() if j.state in ("queued", "running")]
                if not open_jobs:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > 0.2:
                        return
                time.sleep(0.005)
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            store.close()

    threads = [
        threading.Thread(target=work, args=(w, backends()), daemon=True) for w in ("w1", "w2")
    ]
    for thread in threads:
        thread.start()
    started.wait()
    during()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert errors == []


def test_keys_and_suspend_natural_rounds(backends: Callable[[], Backend], store: Store) -> None:
    backend = backends()
    for round_ in range(ROUNDS):
        member = f"Member {round_}"
        name = _member(store, backend, member)
        accounts.enqueue_suspend(store, member, "membership lapsed")
        _two_workers(store.path, backends, lambda m=member: _replace_k1_with_k2(store, m))
        account = _account(backend, name)
        assert account.suspended and account.keys == (K2,), f"round {round_}: {account}"
        assert _live_keys(backend, name) == ()
        accounts.enqueue_restore(store, member)
        _two_workers(store.path, backends, lambda: None)
        account = _account(backend, name)
        assert not account.suspended and _live_keys(backend, name) == (K2,), f"round {round_}"


def test_restore_and_suspend_natural_rounds(backends: Callable[[], Backend], store: Store) -> None:
    backend = backends()
    for round_ in range(ROUNDS):
        member = f"Member {round_}"
        name = _member(store, backend, member)
        accounts.enqueue_suspend(store, member, "membership lapsed")
        _two_workers(store.path, backends, lambda m=member: accounts.enqueue_restore(store, m))
        account = _account(backend, name)
        assert not account.suspended and account.shell == "/bin/bash", f"round {round_}"
        assert _live_keys(backend, name) == (K1,), f"round {round_}"


class Meddled(LdapBackend):
    """The LDAP backend, with someone changing the entry by hand between each read and
    the modify built from it (`meddle` times at most)."""

    def __init__(self, slapd: Slapd, change: Callable[[int], dict], meddle: int) -> None:
        super().__init__(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
        self.slapd, self.change, self.meddle, self.reads = slapd, change, meddle, 0

    def _converge_entry(self, dn, changes_for, require=False):  # type: ignore[no-untyped-def]
        def meddling(entry):  # type: ignore[no-untyped-def]
            changes = changes_for(entry)
            self.reads += 1
            if self.reads <= self.meddle:
                hand = ldap3.Connection(
                    self.slapd.url, self.slapd.root_dn, self.slapd.password, auto_bind=True
                )
                assert hand.modify(dn, self.change(self.reads)), hand.result
                hand.unbind()
            return changes

        return super()._converge_entry(dn, meddling, require)


HAND = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandAddedKeyHandAddedKeyHandAddedKey0001 hand"


@pytest.mark.parametrize("assertion", [True, False])
def test_a_change_between_read_and_modify_is_refused_and_retried(
    slapd: Slapd, monkeypatch: pytest.MonkeyPatch, assertion: bool
) -> None:
    LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password).create_person(
        "Jane Doe", "jane-doe", [K1]
    )
    if assertion:  # any change to the entry: the entryCSN assertion refuses the modify
        change = {"sshPublicKey": [(ldap3.MODIFY_ADD, [HAND])]}
    else:  # without the assertion, deleting the exact values read catches a value removed
        monkeypatch.setattr(ldap_connection, "guard", lambda entry: None)
        change = {"sshPublicKey": [(ldap3.MODIFY_REPLACE, [HAND])]}
    ldap = Meddled(slapd, lambda n: change, meddle=1)
    ldap.converge("jane-doe", Desired(keys=(K2,)))
    assert ldap.reads == 2  # read, refused, read again, written
    [entry] = slapd.search(f"ou=people,{slapd.base_dn}", "(uid=jane-doe)")
    assert entry["sshPublicKey"] == [K2]


def test_an_entry_that_keeps_changing_fails_the_job_for_a_retry(slapd: Slapd) -> None:
    LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password).create_person(
        "Jane Doe", "jane-doe", [K1]
    )
    ldap = Meddled(slapd, lambda n: {"description": [(ldap3.MODIFY_ADD, [f"note {n}"])]}, meddle=99)
    with pytest.raises(ProvisioningError, match="kept changing") as caught:
        ldap.converge("jane-doe", Desired(keys=(K2,)))
    assert not caught.value.permanent and ldap.reads == ldap_connection.CONFLICT_RETRIES
