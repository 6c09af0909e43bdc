"""Per-caller identity through the FUSE view (one real mount, real users via setpriv).

Each Linux uid acts as its own LP49 user (lp49fs/fuse/users.py): /dev/user read through the
view names the caller, files a user creates are owned by that user (st_uid maps back
through the passwd), another user's 0600 file is refused with EACCES, a change of owner by
a user is EPERM while root (the host owner) may change owners, and the view's log stays
free of warnings and tracebacks.
"""

from __future__ import annotations

import os
import pathlib
import pwd
from collections.abc import Iterator

import pytest

from tests.fuse_view import LP49, mounted, run, scratch
from tests.waiting import wait_until

pytestmark = pytest.mark.fuse

NOBODY = 65534  # nobody in Debian's passwd
DAEMON = pwd.getpwnam("daemon").pw_uid
UNKNOWN = 54321  # a uid the passwd does not have


def unused_uid() -> int:
    with pytest.raises(KeyError):
        pwd.getpwuid(UNKNOWN)
    return UNKNOWN


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("users")


@pytest.fixture(scope="module")
def view(base: pathlib.Path) -> Iterator[pathlib.Path]:
    with mounted(base) as mnt:
        yield mnt


@pytest.fixture
def tmp(view: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[pathlib.Path]:
    with scratch(view, request.node.name, 0o777) as d:
        yield d


def as_user(uid: int, script: str, cwd: pathlib.Path) -> tuple[int, str, str]:
    """Run ``sh -c script`` as ``uid`` (its own group, no others) in ``cwd``."""
    r = run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
             "sh", "-c", script], cwd=cwd)  # fmt: skip
    return r.returncode, r.stdout, r.stderr


def test_each_caller_is_its_own_user(tmp: pathlib.Path) -> None:
    got = {uid: as_user(uid, "cat ../../dev/user", tmp) for uid in (NOBODY, DAEMON, unused_uid())}
    assert got == {NOBODY: (0, "nobody", ""), DAEMON: (0, "daemon", ""), UNKNOWN: (0, "none", "")}
    # root acts as the node's own user, as the mount process does (users.py Rule 2)
    assert (tmp.parent.parent / "dev" / "user").read_text() not in ("nobody", "daemon", "none")


def test_files_are_owned_by_their_creator(tmp: pathlib.Path) -> None:
    for uid in (NOBODY, DAEMON):
        assert as_user(uid, f"echo hi > f{uid} && mkdir d{uid}", tmp) == (0, "", "")
        for name in (f"f{uid}", f"d{uid}"):
            assert os.stat(tmp / name).st_uid == uid
    assert (tmp / f"f{DAEMON}").read_text() == "hi\n"  # root reads through the same tree


def test_another_users_private_file_is_refused(tmp: pathlib.Path) -> None:
    assert as_user(DAEMON, "echo secret > p && chmod 600 p && cat p", tmp) == (0, "secret\n", "")
    code, out, err = as_user(NOBODY, "cat p", tmp)
    assert (code, out) == (1, "") and "Permission denied" in err, err
    code, out, err = as_user(NOBODY, "echo x >> p", tmp)
    assert code != 0 and "Permission denied" in err, err
    assert as_user(DAEMON, "cat p", tmp) == (0, "secret\n", "")  # nothing lost


def test_open_file_stays_its_openers(tmp: pathlib.Path) -> None:
    """An fd opened by one caller is used through the fh whoever writes: a shell's
    redirection keeps writing after other callers have come and gone."""
    script = "exec 3> w; echo one >&3; cat ../../dev/user >&3; echo two >&3; exec 3>&-; cat w"
    assert as_user(DAEMON, script, tmp) == (0, "one\ndaemontwo\n", "")
    assert as_user(NOBODY, "echo x > v", tmp) == (0, "", "")
    assert os.stat(tmp / "w").st_uid == DAEMON and os.stat(tmp / "v").st_uid == NOBODY


def test_chown_by_a_user_is_eperm(tmp: pathlib.Path) -> None:
    assert as_user(DAEMON, "echo x > c", tmp) == (0, "", "")
    code, _, err = as_user(DAEMON, f"chown {NOBODY} c", tmp)
    assert code == 1 and "Operation not permitted" in err, err
    code, _, err = as_user(NOBODY, f"chown {NOBODY} c", tmp)
    assert code == 1 and "Operation not permitted" in err, err
    assert os.stat(tmp / "c").st_uid == DAEMON
    assert as_user(DAEMON, f"chgrp {DAEMON} c", tmp) == (0, "", "")  # a new group by the owner
    assert (os.stat(tmp / "c").st_uid, os.stat(tmp / "c").st_gid) == (DAEMON, DAEMON)
    os.chown(tmp / "c", NOBODY, NOBODY)  # root acts as the host owner: a change of owner
    assert (os.stat(tmp / "c").st_uid, os.stat(tmp / "c").st_gid) == (NOBODY, NOBODY)
    assert as_user(NOBODY, "echo mine >> c && cat c", tmp) == (0, "x\nmine\n", "")
    code, _, err = as_user(DAEMON, "echo no >> c", tmp)  # daemon no longer owns it
    assert code != 0 and "Permission denied" in err, err


def test_the_log_is_quiet(base: pathlib.Path, tmp: pathlib.Path) -> None:
    as_user(NOBODY, "cat ../../dev/user; cat nonexistent", tmp)
    text = (base / "view.log").read_text() if (base / "view.log").exists() else ""
    for bad in ("WARNING", "ERROR", "Traceback", "front fell off"):
        assert bad not in text, text


def test_an_unknown_caller_acts_and_shows_as_none(tmp: pathlib.Path) -> None:
    uid = unused_uid()
    assert as_user(uid, "echo x > u && cat u", tmp) == (0, "x\n", "")
    assert os.stat(tmp / "u").st_uid == 65534  # none: the overflow uid, not root's
    code, _, err = as_user(NOBODY, "echo y > u", tmp)  # nobody is not none
    assert code != 0 and "Permission denied" in err, err


def test_remounts_reads_the_ns_and_refuses_foreign_mounts() -> None:
    from lp49fs.fuse.users import MAFTER, MCREATE, remounts

    ns = ["bind  #c /dev\n", "mount -c #s/ramfs /tmp \n", "mount -a /srv/x /n/x spec\n", "cd /\n"]
    assert remounts(ns) == [("#s/ramfs", "/tmp", MCREATE, ""), ("/srv/x", "/n/x", MAFTER, "spec")]
    with pytest.raises(ValueError, match="cannot attach #\\|/data1 on / as another user"):
        remounts(["mount -b #|/data1 / \n"])


def test_a_users_table_names_callers_before_the_passwd(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``-o users=UID=NAME:...``: a uid the passwd lacks gets its own user (not none), a uid
    the passwd has is renamed, and owners map back to those uids."""
    base = tmp_path_factory.mktemp("table")
    with mounted(base, f"users={UNKNOWN}=alice:{DAEMON}=carol") as mnt, \
            scratch(mnt, "table", 0o777) as d:  # fmt: skip
        got = {uid: as_user(uid, "cat ../../dev/user && echo x > f$(id -u)", d)
               for uid in (UNKNOWN, DAEMON, NOBODY)}  # fmt: skip
        assert got == {UNKNOWN: (0, "alice", ""), DAEMON: (0, "carol", ""),
                       NOBODY: (0, "nobody", "")}  # fmt: skip
        for uid in (UNKNOWN, DAEMON, NOBODY):
            assert os.stat(d / f"f{uid}").st_uid == uid
        os.chown(d / f"f{NOBODY}", UNKNOWN, -1)  # root gives it to alice, by the table
        assert as_user(UNKNOWN, f"echo more >> f{NOBODY}", d) == (0, "", "")


def test_binds_made_later_reach_a_callers_copy(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A bind typed in the shown shell after nobody's first request reaches nobody's copy
    of the name space (users.py Rule 3b), and the replaced caller process ends."""
    base = tmp_path_factory.mktemp("later")
    sock = base / "sh.cons"
    with mounted(base, f"proc=sh,console=unix!{sock}") as mnt, \
            scratch(mnt, "later", 0o777) as d:  # fmt: skip
        (d / "sub").mkdir()
        os.chmod(d / "sub", 0o777)
        assert as_user(NOBODY, "ls sub", d) == (0, "", "")  # nobody's process and copy
        typed = run([str(LP49), "console", f"unix!{sock}"], input="bind '#e' /tmp/later/sub\n")
        assert typed.returncode == 0, typed
        assert "sysname" in os.listdir(d / "sub")  # root acts as the view itself: at once
        wait_until(lambda: "sysname" in as_user(NOBODY, "ls sub", d)[1], "nobody sees the bind")
        assert as_user(NOBODY, "cat sub/sysname", d) == (0, "lp49", "")

        def callers() -> int:
            out = run([str(LP49), "console", f"unix!{sock}"], input="ps\n").stdout
            return out.count("fusecaller")

        wait_until(lambda: callers() == 1, "the replaced caller process to end")
