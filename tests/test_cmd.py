"""The utilities end to end, each a real LP49 process on a booted node (through sh or alone)."""

from __future__ import annotations

from lp49fs.node.boot import Node
from tests.lib_helpers import node
from tests.sh_helpers import run, sh

__all__ = ["node"]


async def test_echo_and_cat(node: Node) -> None:
    assert (await run(node, "echo", ["a", "b"])).out == "a b\n"
    assert (await run(node, "echo", ["-n", "a"])).out == "a"
    assert (await run(node, "cat", [], stdin=b"through\n")).out == "through\n"
    r = await run(node, "cat", ["/nonexistent"])
    assert r.err.startswith("cat: can't open /nonexistent: ")
    assert r.status.startswith("can't open /nonexistent")


async def test_ls_forms(node: Node) -> None:
    r = await sh(node, "cd /dev; ls | wc -l; ls time pid; ls /dev/time; ls -d /dev; ls -d .")
    assert r.out.splitlines() == ["     14", "pid", "time", "/dev/time", "/dev", "."]


async def test_ls_l_and_q_read_real_stats(node: Node) -> None:
    r = await sh(node, "ls -l /dev/time /dev/null; ls -q /dev/time")
    null_l, time_l, time_q = r.out.splitlines()  # sorted by name
    f = time_l.split()
    assert f[:5] == ["--rw-rw-r--", "c", "0", "glenda", "glenda"]
    assert f[5] == "78" and f[-1] == "/dev/time"
    assert null_l.split()[0] == "--rw-rw-rw-" and null_l.split()[-1] == "/dev/null"
    month = f[6]  # today's, whatever it is: both files are dated now
    assert null_l.index(f" 0 {month}") == time_l.index(f"78 {month}")  # lengths right-aligned
    assert time_q.startswith("(") and time_q.endswith(" 00) /dev/time")


async def test_ls_union_lists_every_member(node: Node) -> None:
    r = await sh(node, "bind -a '#c' /env; echo x > /env/v; ls /env")
    names = r.out.splitlines()
    assert "/env/v" in names and "/env/time" in names
    assert names == sorted(names)


async def test_ls_error_goes_on(node: Node) -> None:
    r = await run(node, "ls", ["/nonexistent", "/dev/time"])
    assert r.out == "/dev/time\n"
    assert r.err.startswith("ls: /nonexistent: ")
    assert r.status == "errors"


async def test_bind_unmount_ns(node: Node) -> None:
    r = await sh(node, "bind -b '#c' /srv; ns; unmount /srv; ns; ls /srv/time")
    assert r.out.count("bind -b '#c' /srv\n") == 1
    first, second = r.out.split("cd /\n")[:2]
    assert "bind -b '#c' /srv" in first
    assert "'#c' /srv" not in second
    assert "does not exist" in r.err


async def test_ns_of_another_process(node: Node) -> None:
    r = await sh(node, "ns 1")
    assert r.out.splitlines()[0] == "bind  '#c' /dev"
    assert (await run(node, "ns", ["999"])).status.startswith("/proc/999/ns")


async def test_bind_usage_and_errors(node: Node) -> None:
    r = await run(node, "bind", ["-z", "a", "b"])
    assert r.err == "usage: bind [-abcCq] new old\n" and r.status == "usage"
    r = await run(node, "bind", ["/nonexistent", "/srv"])
    assert r.err.startswith("bind: /nonexistent /srv: ")
    r = await run(node, "bind", ["-q", "/nonexistent", "/srv"])
    assert r.err == "" and r.status != ""


async def test_ps_lists_itself_and_its_shell(node: Node) -> None:
    r = await sh(node, "ps")
    lines = r.out.splitlines()
    names = [line.split()[-1] for line in lines]
    assert names[0] == "boot" and "sh" in names and names[-1] == "ps"
    pids = [int(line.split()[1]) for line in lines]
    assert pids == sorted(pids)
    assert all(line.startswith("glenda") for line in lines)


async def test_ps_a_prints_arguments(node: Node) -> None:
    r = await sh(node, "ps -a | cat")
    assert any(line.endswith("ps -a") for line in r.out.splitlines())


async def test_kill_by_pid_and_by_name(node: Node) -> None:
    r = await sh(node, "sleep 30 & kill $apid; wait $apid; echo $status")
    assert r.out == "killed\n"
    r = await sh(node, "sleep 30 & sleep 30 & kill sleep; wait; ps")
    assert [line.split()[-1] for line in r.out.splitlines()][2:] == ["sh", "ps"], r.out
    r = await run(node, "kill", ["nosuchprog"])
    assert r.err == "kill: nosuchprog: no such process\n"


async def test_sleep_and_date(node: Node) -> None:
    r = await sh(node, "date -n; sleep 0.05; date -n; date; date -u")
    a, b, local, utc = r.out.splitlines()
    assert 0 <= int(b) - int(a) <= 5
    assert len(local.split()) == 6 and utc.split()[4] == "GMT"
    assert (await run(node, "sleep", ["x"])).status == "usage"


async def test_pwd(node: Node) -> None:
    assert (await sh(node, "cd /proc; pwd")).out == "/proc\n"


async def test_srv_posts_an_fd(node: Node) -> None:
    r = await sh(node, "srv mine < /dev/time; ls /srv; cat /srv/mine | wc -w; rm /srv/mine; "
                       "ls /srv | wc -l")
    assert r.out.splitlines() == ["/srv/mine", "      4", "      0"]  # /dev/time: 4 numbers
    r = await sh(node, "srv 0 twice </dev/null; srv 0 twice </dev/null")
    assert "already exists" in r.err


async def test_cp_mv_rm_on_env(node: Node) -> None:
    r = await sh(node, "echo data > /env/a; cp /env/a /env/b; cat /env/b; mv /env/b /env/c; "
                       "ls /env; cat /env/c; rm /env/a /env/c; ls /env | wc -l")
    assert r.out.splitlines() == ["data", "/env/a", "/env/c", "data", "      0"]
    r = await run(node, "rm", ["/env/nonexistent"])
    assert r.err.startswith("rm: /env/nonexistent: ") and r.status == "errors"
    assert (await run(node, "rm", ["-f", "/env/nonexistent"])).status == ""


async def test_cp_into_a_directory(node: Node) -> None:
    r = await sh(node, "echo x > /env/f; bind -c '#e' /srv; cp /dev/sysname /env/f /srv; "
                       "ls /srv; cat /srv/sysname")
    assert r.out.splitlines()[:2] == ["/srv/f", "/srv/sysname"]
    assert r.out.splitlines()[-1] == "lp49"


async def test_mkdir_reports_errors(node: Node) -> None:
    r = await run(node, "mkdir", ["/dev/d"])
    assert r.err == "mkdir: /dev/d: mounted directory forbids creation\n"
    assert r.status == "error"
    r = await run(node, "mkdir", ["-p", "/dev/time/x"])
    assert "not a directory" in r.err


async def test_wc_counts(node: Node) -> None:
    r = await run(node, "wc", [], stdin=b"one two\nthree\n")
    assert r.out == "      2       3      14\n"
    r = await sh(node, "echo a b > /env/x; wc -l /env/x /env/x")
    assert r.out == "      1 /env/x\n      1 /env/x\n      2 total\n"


async def test_mount_needs_a_server(node: Node) -> None:
    r = await run(node, "mount", ["/nonexistent", "/n"])
    assert r.err.startswith("mount: /nonexistent /n: ")
    assert (await run(node, "mount", ["-ab", "x", "y"])).status == "usage"
    assert (await run(node, "unmount", ["/nonexistent"])).err.startswith("unmount: ")
