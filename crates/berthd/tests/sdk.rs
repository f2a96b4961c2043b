//! The Python Docker SDK (docker-py) against berthd: what it sends that the
//! docker CLI does not.

mod common;

use common::*;

/// Runs a docker-py script against the daemon; its stdout.
fn sdk(d: &Daemon, script: &str) -> String {
    let out = d.docker_py(script);
    assert!(out.status.success(), "docker-py: {}", stderr(&out));
    stdout(&out)
}

/// An exec created with a terminal has one, though the SDK starts it with
/// `"Tty": false` (that field only says how the stream is framed): output
/// and errors arrive together, lines end in `\r\n`.
#[test]
fn exec_terminal_comes_from_its_create_config() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = sdk(
        &d,
        "ct = c.containers.run('busybox', ['sleep', '100'], detach=True)\n\
         ex = c.api.exec_create(ct.id, ['sh', '-c', 'tty; echo out; echo err >&2'], tty=True)\n\
         print(repr(c.api.exec_start(ex['Id'], tty=False)))\n\
         ex = c.api.exec_create(ct.id, ['sh', '-c', 'tty; echo out'], tty=False)\n\
         print(repr(c.api.exec_start(ex['Id'], tty=False)))\n\
         ct.remove(force=True)",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], r"b'/dev/pts/0\r\nout\r\nerr\r\n'", "{out}");
    assert_eq!(lines[1], r"b'not a tty\nout\n'", "{out}");
}

/// `HostConfig.GroupAdd`, by number and by the container's group names,
/// reaches the container's process and its execs; an unknown name fails
/// the start with runc's error.
#[test]
fn group_add_by_number_and_name() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = sdk(
        &d,
        "print(c.containers.run('busybox', ['id', '-G'], group_add=['4242', 'nogroup'], remove=True).decode().strip())\n\
         ct = c.containers.run('busybox', ['sleep', '100'], group_add=['4242'], detach=True)\n\
         print(ct.exec_run(['id', '-G']).output.decode().strip())\n\
         print(ct.exec_run(['id', '-G'], user='65534').output.decode().strip())\n\
         ct.remove(force=True)",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["0 4242 65534", "0 4242", "65534 4242"], "{out}");
    let bad = d.docker(&["run", "--rm", "--group-add", "staff", "busybox", "true"]);
    assert_eq!(code(&bad), 125, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("Unable to find group staff: no matching entries in group file"),
        "{}",
        stderr(&bad)
    );
}
