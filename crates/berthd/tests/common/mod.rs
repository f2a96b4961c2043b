//! A real berthd per test: its own data root, exec root, socket and cgroup
//! parent, a busybox image made from Debian's busybox-static, and a Drop
//! that removes every container, mount, cgroup and process it made.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const DOCKER: &str = "/usr/local/bin/docker";

/// target/debug (or release), found from the test binary's own path.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace` before the tests",
        p.display()
    );
    p
}

/// A busybox root file system tar, made once and kept in the target
/// directory (inside the checkout), shared by every test process.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let tar_path = bin_dir().join("busybox-test.tar");
        if tar_path.exists() {
            return tar_path;
        }
        let work = tempfile::Builder::new()
            .prefix("busybox-rootfs-")
            .tempdir_in(bin_dir())
            .unwrap();
        let root = work.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static must be installed");
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for app in String::from_utf8_lossy(&list.stdout).lines() {
            if app != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(app));
            }
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let tmp_tar = work.path().join("busybox.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&tmp_tar).unwrap());
        b.follow_symlinks(false);
        b.append_dir_all(".", &root).unwrap();
        b.finish().unwrap();
        // Test processes run side by side: the rename makes the first one's tar the one.
        std::fs::rename(&tmp_tar, &tar_path).unwrap();
        tar_path
    })
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub cgroup_parent: String,
    /// This daemon's default bridge, nftables table and address pool (10.N.0.0/16),
    /// so that daemons of tests running side by side never share them.
    pub bridge: String,
    pub nft_table: String,
    pub pool: u8,
    child: Option<Child>,
    /// daemon.json keys beside the test defaults; a change holds from the next `spawn`.
    pub extra_config: serde_json::Value,
    /// Listeners besides the UNIX socket (`-H tcp://…`).
    extra_hosts: Vec<String>,
    /// Run berthd in a mount namespace of its own whose /sys/fs/cgroup is the
    /// hybrid layout's cgroup2 mount: a cgroup v2 host, as berthd sees it.
    cgroup2_view: bool,
}

/// A 10.N.0.0/16 that no host route and no other daemon of this process uses.
fn free_pool() -> u8 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    loop {
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = 100 + ((std::process::id() * 7 + k * 11) % 150) as u8;
        // /proc/net/route prints 10.N.x.x as ..N0A (memory order).
        if !routes.contains(&format!("{n:02X}0A\t")) {
            return n;
        }
    }
}

fn unique() -> String {
    format!("{}-{:08x}", std::process::id(), rand::random::<u32>())
}

impl Daemon {
    pub fn start() -> Daemon {
        Self::start_with(serde_json::json!({}))
    }

    /// Starts berthd with extra daemon.json keys.
    pub fn start_with(extra: serde_json::Value) -> Daemon {
        Self::start_full(extra, vec![])
    }

    /// Starts berthd listening on `host` too.
    pub fn start_also_on(host: &str) -> Daemon {
        Self::start_full(serde_json::json!({}), vec![host.to_string()])
    }

    /// Starts berthd seeing only the cgroup2 hierarchy (`cgroup2_view`), or
    /// `None` where this host has no separate cgroup2 mount to show it.
    pub fn start_on_cgroup2(extra: serde_json::Value) -> Option<Daemon> {
        let unified = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(" /sys/fs/cgroup/unified ") && l.contains(" - cgroup2 "));
        if !unified {
            return None;
        }
        Some(Self::start_inner(extra, vec![], true))
    }

    fn start_full(extra: serde_json::Value, extra_hosts: Vec<String>) -> Daemon {
        Self::start_inner(extra, extra_hosts, false)
    }

    fn start_inner(
        extra: serde_json::Value,
        extra_hosts: Vec<String>,
        cgroup2_view: bool,
    ) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("berth-it-")
            .tempdir_in("/tmp")
            .unwrap();
        let socket = dir.path().join("berth.sock");
        let tag = format!("{:08x}", rand::random::<u32>());
        let mut d = Daemon {
            cgroup_parent: format!("berth-it-{}", unique()),
            bridge: format!("bti{tag}"),
            nft_table: format!("berth_it_{tag}"),
            pool: free_pool(),
            dir,
            socket,
            child: None,
            extra_config: extra,
            extra_hosts,
            cgroup2_view,
        };
        d.spawn();
        d
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }

    /// Per-registry CAs for this daemon, as `/etc/docker/certs.d` is for dockerd.
    pub fn certs_dir(&self) -> PathBuf {
        self.dir.path().join("certs.d")
    }

    /// The berth CLI's config directory (`BERTH_CONFIG`: credentials).
    pub fn berth_config(&self) -> PathBuf {
        self.dir.path().join("berth-config")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn config_path(&self) -> PathBuf {
        let n = self.pool;
        let mut cfg = serde_json::json!({
            "cgroup-parent": self.cgroup_parent,
            "bridge": self.bridge,
            "bip": format!("10.{n}.0.1/24"),
            "default-address-pools": [{"base": format!("10.{n}.0.0/16"), "size": 24}],
            "nftables-table": self.nft_table,
            // Tests never reach a registry off this host (Docker Hub included).
            "registry-loopback-only": true,
            "certs-dir": self.certs_dir(),
        });
        if let (Some(m), Some(extra)) = (cfg.as_object_mut(), self.extra_config.as_object()) {
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
        let p = self.dir.path().join("daemon.json");
        std::fs::write(&p, serde_json::to_vec(&cfg).unwrap()).unwrap();
        p
    }

    pub fn command(&self) -> Command {
        let mut c = if self.cgroup2_view {
            // unshare execs sh, which execs berthd: the PID is berthd's.
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "slave", "sh", "-c"])
                .arg("mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup && exec \"$@\"")
                .arg("sh")
                .arg(bin("berthd"));
            c
        } else {
            Command::new(bin("berthd"))
        };
        c.arg("-H").arg(self.host());
        for h in &self.extra_hosts {
            c.arg("-H").arg(h);
        }
        c.arg("--data-root")
            .arg(self.data_root())
            .arg("--exec-root")
            .arg(self.exec_root());
        c.arg("--config-file")
            .arg(self.config_path())
            .arg("--log-level")
            .arg("warn");
        c.env("BERTH_SHIM", bin("berth-shim"));
        c
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .unwrap();
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start berthd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                break;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("berthd exited at start ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "berthd did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    /// Ends berthd with a signal and reaps it (containers stay up).
    pub fn stop_daemon(&mut self, signal: i32) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, signal) };
            let _ = c.wait();
        }
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .args(args)
            .env("DOCKER_HOST", self.host())
            // `docker build` through the legacy builder's API, which berthd serves.
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .output()
            .expect("run docker")
    }

    pub fn docker_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        run_with_stdin(
            Command::new(DOCKER)
                .args(args)
                .env("DOCKER_HOST", self.host())
                .env("DOCKER_BUILDKIT", "0")
                .env("DOCKER_CONFIG", self.dir.path().join("docker-config")),
            input,
        )
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        Command::new(bin("berth"))
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("BERTH_CONFIG", self.berth_config())
            .output()
            .expect("run berth")
    }

    pub fn berth_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        run_with_stdin(
            Command::new(bin("berth"))
                .arg("-H")
                .arg(self.host())
                .args(args)
                .env("BERTH_CONFIG", self.berth_config()),
            input,
        )
    }

    /// Imports the busybox image as `busybox:latest` (or another name).
    /// A docker-py script run against this daemon, its client as `c`.
    pub fn docker_py(&self, script: &str) -> Output {
        Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import docker, sys\nc = docker.DockerClient(base_url='unix://{}', version='auto')\n{script}",
                self.socket.display()
            ))
            .output()
            .expect("python3")
    }

    pub fn import_busybox(&self, name: &str) -> String {
        let out = self.berth(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            busybox_tar().to_str().unwrap(),
            name,
        ]);
        assert_ok(&out);
        stdout(&out).trim().to_string()
    }

    pub fn client(&self) -> berth_client::Client {
        berth_client::Client::new(&self.host()).unwrap()
    }

    fn cleanup(&mut self) {
        if self.child.is_none()
            && self.socket.exists()
            && std::os::unix::net::UnixStream::connect(&self.socket).is_err()
        {
            // berthd was killed by the test: bring it back to remove what it owns.
            self.spawn();
        }
        if self.child.is_some() {
            let ids = self.berth(&["ps", "-aq", "--no-trunc"]);
            for id in stdout(&ids).lines().filter(|l| !l.is_empty()) {
                let _ = self.berth(&["rm", "-f", id]);
            }
            let _ = self.docker(&["network", "prune", "-f"]);
            self.stop_daemon(libc::SIGTERM);
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        for family in ["ip", "ip6"] {
            let _ = Command::new("nft")
                .args(["delete", "table", family, &self.nft_table])
                .stderr(std::process::Stdio::null())
                .status();
        }
        // Whatever is still mounted below our directory (a test that failed mid-way).
        let root = self.dir.path().display().to_string();
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut targets: Vec<&str> = mounts
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|t| t.starts_with(&root))
                .collect();
            targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
            for t in targets {
                let c = std::ffi::CString::new(t).unwrap();
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        remove_cgroups(&self.cgroup_parent);
    }
}

/// Removes a cgroup parent (and any leftover children, at any depth, bottom-up)
/// from every hierarchy.
pub fn remove_cgroups(parent: &str) {
    fn bottom_up(dir: &Path) {
        for c in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if c.file_type().is_ok_and(|t| t.is_dir()) {
                bottom_up(&c.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for e in rd.flatten() {
        bottom_up(&e.path().join(parent));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.cleanup();
    }
}

pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// berthd run to its end with these roots and configuration (ones it is
/// meant to refuse at start): what it printed and how it ended.
pub fn berthd_refusing(
    extra: &[&str],
    host: &str,
    data_root: &Path,
    exec_root: &Path,
    config: &Path,
) -> Output {
    Command::new(bin("berthd"))
        .args(extra)
        .arg("-H")
        .arg(host)
        .arg("--data-root")
        .arg(data_root)
        .arg("--exec-root")
        .arg(exec_root)
        .arg("--config-file")
        .arg(config)
        .output()
        .expect("berthd")
}

/// A command that must fail, and say why: a non-zero exit and `why` in
/// what it printed (stderr, or stdout for tools that report there).
#[track_caller]
pub fn assert_fails_with(o: &Output, why: &str) {
    let said = format!("{}{}", stderr(o), stdout(o));
    assert_ne!(code(o), 0, "expected a failure ({why}): {said}");
    assert!(said.contains(why), "expected {why:?} in: {said}");
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Polls until `f` holds or the time is up.
#[track_caller]
pub fn eventually(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw HTTP/1.1 request over the socket, for malformed-input tests.
pub fn raw_http(
    socket: &Path,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let (status, body) = raw_http_bytes(socket, method, path, content_type, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The same, the answer's body as bytes (a stream's frames), read until the
/// daemon closes the connection and de-chunked.
pub fn raw_http_bytes(
    socket: &Path,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: berth\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).unwrap();
    // A daemon may answer (a refusal) before it has read the whole body,
    // and close: its answer is still there to read.
    if let Err(e) = s.write_all(body) {
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        assert!(matches!(e.kind(), BrokenPipe | ConnectionReset), "{e}");
    }
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let end = resp.windows(4).position(|w| w == b"\r\n\r\n");
    let head = String::from_utf8_lossy(&resp[..end.unwrap_or(resp.len())]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = end.map(|e| resp[e + 4..].to_vec()).unwrap_or_default();
    if head.contains("transfer-encoding: chunked") {
        (status, dechunk(&body))
    } else {
        (status, body)
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let n = std::str::from_utf8(&rest[..i])
            .ok()
            .and_then(|l| usize::from_str_radix(l.trim(), 16).ok())
            .unwrap_or(0);
        let after = &rest[i + 2..];
        if n == 0 || after.len() < n {
            break;
        }
        out.extend_from_slice(&after[..n]);
        rest = after[n..].strip_prefix(b"\r\n").unwrap_or(&after[n..]);
    }
    out
}

/// An htpasswd file in `dir` with one user, `alice`, password `s3cret` (bcrypt).
pub fn htpasswd(dir: &Path) -> PathBuf {
    let p = dir.join("htpasswd");
    std::fs::write(
        &p,
        format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap()),
    )
    .unwrap();
    p
}

/// A `berth registry serve` on a free loopback port, stopped by PID on drop.
pub struct Registry {
    child: std::process::Child,
    pub addr: String,
    _dir: Option<tempfile::TempDir>,
}

impl Registry {
    /// On storage of its own.
    pub fn start(extra: &[&str]) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Registry::serve(&dir.path().join("storage"), extra);
        r._dir = Some(dir);
        r
    }

    /// On `storage`, which outlives it.
    pub fn serve(storage: &Path, extra: &[&str]) -> Registry {
        Registry::try_serve(storage, extra).unwrap_or_else(|e| panic!("registry: {e}"))
    }

    /// The error output when it does not start.
    pub fn try_serve(storage: &Path, extra: &[&str]) -> Result<Registry, String> {
        Registry::try_serve_on("127.0.0.1:0", storage, extra)
    }

    /// On its own storage, listening on `listen` (a test bridge's address, say).
    pub fn start_on(listen: &str, extra: &[&str]) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Registry::try_serve_on(listen, &dir.path().join("storage"), extra)
            .unwrap_or_else(|e| panic!("registry: {e}"));
        r._dir = Some(dir);
        r
    }

    fn try_serve_on(listen: &str, storage: &Path, extra: &[&str]) -> Result<Registry, String> {
        use std::io::BufRead as _;
        let mut child = Command::new(bin("berth"))
            .args([
                "registry",
                "serve",
                "--listen",
                listen,
                "--log-level",
                "warn",
                "--storage",
            ])
            .arg(storage)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let out = child.wait_with_output().unwrap();
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        };
        // Its log is not needed once it is up; a full pipe must not block it.
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Ok(Registry {
            addr: addr.to_string(),
            child,
            _dir: None,
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tmux server of our own (its own socket name), killed on drop.
pub struct Tmux {
    name: String,
}

impl Tmux {
    pub fn new(cmd: &str) -> Tmux {
        let name = format!(
            "berth-it-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let out = Command::new("tmux")
            .args([
                "-L",
                &name,
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                "t",
                cmd,
            ])
            .output()
            .expect("tmux");
        assert!(out.status.success(), "tmux: {}", stderr(&out));
        Tmux { name }
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.name, "send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }
    pub fn screen(&self) -> String {
        stdout(
            &Command::new("tmux")
                .args(["-L", &self.name, "capture-pane", "-p", "-t", "t"])
                .output()
                .unwrap(),
        )
    }
    pub fn wait_for(&self, text: &str) {
        let mut last = String::new();
        for _ in 0..250 {
            last = self.screen();
            if last.contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(40));
        }
        panic!("{text:?} never appeared on the screen:\n{last}");
    }
    pub fn resize(&self, cols: u16, rows: u16) {
        let _ = Command::new("tmux")
            .args([
                "-L",
                &self.name,
                "resize-window",
                "-t",
                "t",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .status();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .status();
    }
}
