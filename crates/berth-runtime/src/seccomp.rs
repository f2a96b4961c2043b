//! Seccomp profiles in Docker's format (`--security-opt seccomp=profile.json`,
//! daemon.json `seccomp-profile`) and the built-in default, equal in effect to
//! Docker's: an allow-list with `SCMP_ACT_ERRNO` (EPERM) as the default, the
//! argument-filtered rules (`clone` namespace flags, `personality` values,
//! `socket` families) and the groups a capability opens. A profile is turned
//! into the OCI `linux.seccomp` section for one container, given its
//! capabilities, the machine's architecture and the kernel's version, as
//! dockerd does (moby `profiles/seccomp`), and libcontainer compiles it with
//! libseccomp.

use oci_spec::runtime::LinuxSeccomp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Result, RuntimeError};

/// A profile as Docker writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub syscalls: Vec<Syscall>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_metadata: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    /// The old single-name form; `names` is the current one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub names: Vec<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub args: Vec<Arg>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// Which containers a rule is for: machine architectures (Go's names:
/// `amd64`, `arm64`, …), capabilities, and a minimum kernel version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub arches: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub caps: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min_kernel: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

const OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

const ARCHES: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
];

/// The machine a container runs on, as a profile's filters see it.
#[derive(Debug, Clone)]
pub struct Host {
    /// Go's name for the architecture (`amd64`), as `includes.arches` uses.
    pub arch: &'static str,
    /// libseccomp's name for it (`SCMP_ARCH_X86_64`), as `archMap` uses.
    pub seccomp_arch: &'static str,
    pub kernel: (u32, u32),
}

impl Host {
    /// This machine.
    pub fn current() -> Host {
        let (arch, seccomp_arch) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
            "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
            "x86" => ("386", "SCMP_ARCH_X86"),
            "arm" => ("arm", "SCMP_ARCH_ARM"),
            "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
            "s390x" => ("s390x", "SCMP_ARCH_S390X"),
            "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
            "mips64" => ("mips64le", "SCMP_ARCH_MIPSEL64"),
            "loongarch64" => ("loong64", "SCMP_ARCH_LOONGARCH64"),
            _ => ("unknown", "SCMP_ARCH_NATIVE"),
        };
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        Host {
            arch,
            seccomp_arch,
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }
}

/// `6.18.44-fc` → (6, 18).
fn parse_kernel(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn invalid(msg: String) -> RuntimeError {
    RuntimeError::Invalid(msg)
}

impl Profile {
    /// Parses and checks a profile as the user wrote it.
    pub fn parse(text: &str) -> Result<Profile> {
        let p: Profile = serde_json::from_str(text)
            .map_err(|e| invalid(format!("Decoding seccomp profile failed: {e}")))?;
        p.check()?;
        Ok(p)
    }

    /// What dockerd refuses in a profile, before any container uses it.
    pub fn check(&self) -> Result<()> {
        if !ACTIONS.contains(&self.default_action.as_str()) {
            return Err(invalid(format!(
                "seccomp profile: unrecognized default action {:?}",
                self.default_action
            )));
        }
        if self.default_action == "SCMP_ACT_NOTIFY" {
            return Err(invalid(
                "seccomp profile: SCMP_ACT_NOTIFY cannot be the default action".into(),
            ));
        }
        if !self.architectures.is_empty() && !self.arch_map.is_empty() {
            return Err(invalid("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'".into()));
        }
        for a in self.architectures.iter().chain(
            self.arch_map
                .iter()
                .flat_map(|m| std::iter::once(&m.architecture).chain(&m.sub_architectures)),
        ) {
            if !ARCHES.contains(&a.as_str()) {
                return Err(invalid(format!(
                    "seccomp profile: unrecognized architecture {a:?}"
                )));
            }
        }
        for f in &self.flags {
            if !FLAGS.contains(&f.as_str()) {
                return Err(invalid(format!("seccomp profile: unrecognized flag {f:?}")));
            }
        }
        for s in &self.syscalls {
            if !s.name.is_empty() && !s.names.is_empty() {
                return Err(invalid("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'".into()));
            }
            if s.name.is_empty() && s.names.is_empty() {
                return Err(invalid("seccomp profile: a rule names no syscall".into()));
            }
            if !ACTIONS.contains(&s.action.as_str()) {
                return Err(invalid(format!(
                    "seccomp profile: unrecognized action {:?}",
                    s.action
                )));
            }
            if s.args.len() > 6 {
                return Err(invalid(
                    "seccomp profile: a syscall has at most 6 arguments".into(),
                ));
            }
            for a in &s.args {
                if a.index > 5 {
                    return Err(invalid(format!(
                        "seccomp profile: argument index {} is out of range",
                        a.index
                    )));
                }
                if !OPS.contains(&a.op.as_str()) {
                    return Err(invalid(format!(
                        "seccomp profile: unrecognized operator {:?}",
                        a.op
                    )));
                }
            }
            for k in [&s.includes.min_kernel, &s.excludes.min_kernel] {
                if !k.is_empty() && parse_kernel(k).is_none() {
                    return Err(invalid(format!("seccomp profile: invalid minKernel {k:?}")));
                }
            }
        }
        Ok(())
    }

    /// [`Profile::to_oci`] as the runtime takes it. What the OCI types cannot
    /// express (an architecture or an operator they lack) is refused here,
    /// before the container starts.
    pub fn section(&self, caps: &[String], host: &Host) -> Result<LinuxSeccomp> {
        serde_json::from_value(self.to_oci(caps, host))
            .map_err(|e| invalid(format!("seccomp profile: {e}")))
    }

    /// The OCI `linux.seccomp` section for a container with capabilities
    /// `caps` (`CAP_…` names) on `host`: rules whose filters do not match are
    /// left out, as dockerd does.
    pub fn to_oci(&self, caps: &[String], host: &Host) -> Value {
        let has_cap = |c: &String| caps.iter().any(|x| x == c);
        let kernel_at_least = |k: &str| parse_kernel(k).is_none_or(|want| host.kernel >= want);
        let mut arches: Vec<&str> = self.architectures.iter().map(String::as_str).collect();
        for m in self
            .arch_map
            .iter()
            .filter(|m| m.architecture == host.seccomp_arch)
        {
            arches.push(&m.architecture);
            arches.extend(m.sub_architectures.iter().map(String::as_str));
        }
        let mut syscalls = Vec::new();
        for s in &self.syscalls {
            let inc = &s.includes;
            if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == host.arch) {
                continue;
            }
            if !inc.caps.iter().all(has_cap) {
                continue;
            }
            if !inc.min_kernel.is_empty() && !kernel_at_least(&inc.min_kernel) {
                continue;
            }
            let exc = &s.excludes;
            if exc.arches.iter().any(|a| a == host.arch) || exc.caps.iter().any(has_cap) {
                continue;
            }
            if !exc.min_kernel.is_empty() && kernel_at_least(&exc.min_kernel) {
                continue;
            }
            let names: Vec<&str> = if s.name.is_empty() {
                s.names.iter().map(String::as_str).collect()
            } else {
                vec![s.name.as_str()]
            };
            let mut rule = json!({"names": names, "action": s.action});
            if let Some(e) = s.errno_ret {
                rule["errnoRet"] = json!(e);
            }
            if !s.args.is_empty() {
                rule["args"] = json!(s
                    .args
                    .iter()
                    .map(|a| json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}))
                    .collect::<Vec<_>>());
            }
            syscalls.push(rule);
        }
        let mut out = json!({"defaultAction": self.default_action, "syscalls": syscalls});
        if let Some(e) = self.default_errno_ret {
            out["defaultErrnoRet"] = json!(e);
        }
        if !arches.is_empty() {
            out["architectures"] = json!(arches);
        }
        if !self.flags.is_empty() {
            out["flags"] = json!(self.flags);
        }
        if !self.listener_path.is_empty() {
            out["listenerPath"] = json!(self.listener_path);
            out["listenerMetadata"] = json!(self.listener_metadata);
        }
        out
    }
}

/// The OCI section compiled to the kernel's BPF program once, in
/// `cache` under its digest, for the container's init to load as it is
/// (libseccomp takes ~15 ms to compile Docker's default profile; loading the
/// program takes microseconds). `None` for what cannot be precompiled (notify
/// filters, filter flags): the init compiles those itself.
pub fn precompiled(
    section: &LinuxSeccomp,
    cache: &std::path::Path,
) -> Result<Option<std::path::PathBuf>> {
    use sha2::Digest as _;
    if !libcontainer::seccomp::can_precompile(section) {
        return Ok(None);
    }
    let text = serde_json::to_vec(section)
        .map_err(|e| RuntimeError::Other(format!("seccomp section: {e}")))?;
    let digest = hex::encode(sha2::Sha256::digest(&text));
    let path = cache.join(format!("{digest}.bpf"));
    if path.exists() {
        return Ok(Some(path));
    }
    std::fs::create_dir_all(cache).map_err(RuntimeError::io("create seccomp cache"))?;
    let tmp = cache.join(format!(".{digest}.{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(RuntimeError::io("create seccomp program"))?;
    let made = libcontainer::seccomp::export_bpf(section, &file)
        .map_err(|e| RuntimeError::Other(format!("compile seccomp profile: {e}")))
        .and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(RuntimeError::io("store seccomp program"))
        });
    if made.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    made.map(|()| Some(path))
}

/// Everything an unconfined program needs: allowed for every container.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// The namespace flags of `clone(2)`: CLONE_NEWNS | NEWCGROUP | NEWUTS |
/// NEWIPC | NEWUSER | NEWPID | NEWNET. Without CAP_SYS_ADMIN a container may
/// clone threads and processes but make no namespace.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// What each capability opens beyond the allow-list (Docker's groups).
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Syscalls only one architecture family has.
const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn allow(names: &[&str]) -> Syscall {
    Syscall {
        names: strings(names),
        action: "SCMP_ACT_ALLOW".into(),
        ..Default::default()
    }
}

fn allow_arg(name: &str, index: u32, value: u64, op: &str) -> Syscall {
    Syscall {
        args: vec![Arg {
            index,
            value,
            value_two: 0,
            op: op.into(),
        }],
        ..allow(&[name])
    }
}

impl Profile {
    /// The built-in default: the same allow-list and rules as Docker's.
    pub fn builtin() -> Profile {
        let mut syscalls = vec![allow(ALLOWED)];
        // ptrace and friends are safe from kernel 4.8 on (seccomp is checked after ptrace).
        syscalls.push(Syscall {
            includes: Filter {
                min_kernel: "4.8".into(),
                ..Default::default()
            },
            ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
        });
        // Every socket family but AF_VSOCK (40), which reaches the hypervisor.
        syscalls.push(allow_arg("socket", 0, 40, "SCMP_CMP_NE"));
        // personality: only the harmless personas (Linux, UNAME26, PER_LINUX32, …, query).
        for persona in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
            syscalls.push(allow_arg("personality", 0, persona, "SCMP_CMP_EQ"));
        }
        for (arches, names) in BY_ARCH {
            syscalls.push(Syscall {
                includes: Filter {
                    arches: strings(arches),
                    ..Default::default()
                },
                ..allow(names)
            });
        }
        for (cap, names) in BY_CAPABILITY {
            syscalls.push(Syscall {
                includes: Filter {
                    caps: vec![cap.to_string()],
                    ..Default::default()
                },
                ..allow(names)
            });
        }
        // Without CAP_SYS_ADMIN: clone without namespace flags (s390 swaps the arguments),
        // and clone3 reports ENOSYS so that libcs fall back to clone, whose flags can be checked.
        let no_admin = |arches: &[&str]| Filter {
            caps: vec!["CAP_SYS_ADMIN".into()],
            arches: strings(arches),
            ..Default::default()
        };
        syscalls.push(Syscall {
            excludes: no_admin(&["s390", "s390x"]),
            ..allow_arg("clone", 0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")
        });
        syscalls.push(Syscall {
            includes: Filter {
                arches: strings(&["s390", "s390x"]),
                ..Default::default()
            },
            excludes: no_admin(&[]),
            comment: "s390 parameter ordering for clone is different".into(),
            ..allow_arg("clone", 1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")
        });
        syscalls.push(Syscall {
            names: vec!["clone3".into()],
            action: "SCMP_ACT_ERRNO".into(),
            errno_ret: Some(libc::ENOSYS as u32),
            excludes: no_admin(&[]),
            ..Default::default()
        });
        let arch_map = [
            ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"][..]),
            ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
            (
                "SCMP_ARCH_MIPS64",
                &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
            ),
            (
                "SCMP_ARCH_MIPS64N32",
                &["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
            ),
            (
                "SCMP_ARCH_MIPSEL64",
                &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
            ),
            (
                "SCMP_ARCH_MIPSEL64N32",
                &["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
            ),
            ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
            ("SCMP_ARCH_RISCV64", &[]),
        ]
        .iter()
        .map(|(a, subs)| ArchMap {
            architecture: a.to_string(),
            sub_architectures: strings(subs),
        })
        .collect();
        Profile {
            default_action: "SCMP_ACT_ERRNO".into(),
            default_errno_ret: Some(libc::EPERM as u32),
            arch_map,
            syscalls,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests;
