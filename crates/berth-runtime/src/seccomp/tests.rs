use super::*;

fn amd64() -> Host {
    Host {
        arch: "amd64",
        seccomp_arch: "SCMP_ARCH_X86_64",
        kernel: (6, 18),
    }
}

fn names(oci: &Value) -> Vec<String> {
    oci["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "SCMP_ACT_ALLOW" && s.get("args").is_none())
        .flat_map(|s| s["names"].as_array().unwrap().clone())
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

fn default_caps() -> Vec<String> {
    crate::spec::DEFAULT_CAPS
        .iter()
        .map(|c| c.to_string())
        .collect()
}

#[test]
fn builtin_is_docker_default_in_effect() {
    let p = Profile::builtin();
    p.check().unwrap();
    let oci = p.to_oci(&default_caps(), &amd64());
    // The OCI types accept it, as libcontainer will read it.
    let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(oci.clone()).unwrap();
    assert_eq!(oci["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(oci["defaultErrnoRet"], 1);
    assert_eq!(
        oci["architectures"],
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    );
    let allowed = names(&oci);
    for ok in [
        "read",
        "execve",
        "arch_prctl",
        "modify_ldt",
        "ptrace",
        "chroot",
    ] {
        assert!(allowed.iter().any(|n| n == ok), "{ok} should be allowed");
    }
    // Denied to a default container: namespaces, mounts, keys, bpf, perf, modules…
    for denied in [
        "unshare",
        "mount",
        "setns",
        "bpf",
        "perf_event_open",
        "add_key",
        "keyctl",
        "request_key",
        "init_module",
        "reboot",
        "kexec_load",
        "open_by_handle_at",
        "userfaultfd",
        "syslog",
        "clock_settime",
        "vhangup",
        "iopl",
        "s390_runtime_instr",
        "cacheflush",
    ] {
        assert!(
            !allowed.iter().any(|n| n == denied),
            "{denied} should be denied"
        );
    }
    let rules = oci["syscalls"].as_array().unwrap();
    // clone only without namespace flags; clone3 answers ENOSYS.
    let clone = rules
        .iter()
        .find(|r| r["names"] == json!(["clone"]))
        .unwrap();
    assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
    assert_eq!(clone["args"][0]["value"], 0x7E02_0000u64);
    assert_eq!(clone["args"][0]["index"], 0, "not the s390 order");
    let clone3 = rules
        .iter()
        .find(|r| r["names"] == json!(["clone3"]))
        .unwrap();
    assert_eq!(clone3["errnoRet"], 38);
    let persona: Vec<u64> = rules
        .iter()
        .filter(|r| r["names"] == json!(["personality"]))
        .map(|r| r["args"][0]["value"].as_u64().unwrap())
        .collect();
    assert_eq!(persona, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
}

#[test]
fn capabilities_open_their_groups() {
    let mut caps = default_caps();
    caps.push("CAP_SYS_ADMIN".into());
    caps.push("CAP_SYS_TIME".into());
    let oci = Profile::builtin().to_oci(&caps, &amd64());
    let allowed = names(&oci);
    for n in [
        "unshare",
        "mount",
        "setns",
        "clone",
        "clone3",
        "clock_settime",
    ] {
        assert!(allowed.iter().any(|x| x == n), "{n} with its capability");
    }
    let rules = oci["syscalls"].as_array().unwrap();
    assert!(
        !rules
            .iter()
            .any(|r| r["names"] == json!(["clone3"]) && r["action"] == "SCMP_ACT_ERRNO"),
        "CAP_SYS_ADMIN lifts the clone3 rule"
    );
    assert!(!rules
        .iter()
        .any(|r| r["names"] == json!(["clone"]) && r.get("args").is_some()));
}

#[test]
fn filters_by_arch_and_kernel() {
    let arm = Host {
        arch: "arm64",
        seccomp_arch: "SCMP_ARCH_AARCH64",
        kernel: (4, 4),
    };
    let oci = Profile::builtin().to_oci(&default_caps(), &arm);
    assert_eq!(
        oci["architectures"],
        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    );
    let allowed = names(&oci);
    assert!(allowed.iter().any(|n| n == "cacheflush"));
    assert!(!allowed.iter().any(|n| n == "arch_prctl"));
    // Before 4.8 ptrace could bypass seccomp: not allowed.
    assert!(!allowed.iter().any(|n| n == "ptrace"));
}

#[test]
fn parses_docker_profiles() {
    let text = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "args": null,
             "includes": {"caps": null}, "excludes": {"arches": ["s390"]}},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
        ],
        "unknownKey": {"ignored": true}
    }"#;
    let p = Profile::parse(text).unwrap();
    let oci = p.to_oci(&default_caps(), &amd64());
    let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(oci.clone()).unwrap();
    assert_eq!(oci["architectures"], json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(
        oci["syscalls"][0],
        json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13})
    );
    assert_eq!(oci["syscalls"][2]["args"][0]["value"], 2);
    // Docker's own default, written out and read back, is the same profile.
    let round = Profile::parse(&serde_json::to_string(&Profile::builtin()).unwrap()).unwrap();
    assert_eq!(round, Profile::builtin());
}

#[test]
fn refuses_hostile_and_broken_profiles() {
    for (text, want) in [
        ("", "Decoding seccomp profile failed"),
        ("{", "Decoding seccomp profile failed"),
        ("/etc/profile.json", "Decoding seccomp profile failed"),
        ("[]", "unrecognized default action \"\""),
        (r#"{"defaultAction": 7}"#, "Decoding seccomp profile failed"),
        (
            r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#,
            "unrecognized default action",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#,
            "cannot be the default action",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
            "use either 'architectures' or 'archMap'",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86"]}"#,
            "unrecognized architecture",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["FLAG"]}"#,
            "unrecognized flag",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}"#,
            "use either 'name' or 'names'",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}"#,
            "names no syscall",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "KILL"}]}"#,
            "unrecognized action",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "out of range",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}"#,
            "unrecognized operator",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "Decoding seccomp profile failed",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "new"}}]}"#,
            "invalid minKernel",
        ),
    ] {
        let e = Profile::parse(text).unwrap_err().to_string();
        assert!(e.contains(want), "{text}: {e}");
    }
    // Truncations of a valid profile never parse into something else.
    let full = serde_json::to_string(&Profile::builtin()).unwrap();
    for cut in (0..full.len()).step_by(97) {
        assert!(Profile::parse(&full[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn kernel_versions() {
    assert_eq!(parse_kernel("6.18.44-fc-v857"), Some((6, 18)));
    assert_eq!(parse_kernel("4.8"), Some((4, 8)));
    assert_eq!(parse_kernel("5"), Some((5, 0)));
    assert_eq!(parse_kernel("x"), None);
}

#[test]
fn precompiled_programs_are_cached_and_enforce_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let oci = Profile::builtin()
        .section(&default_caps(), &Host::current())
        .unwrap();
    let p = precompiled(&oci, dir.path()).unwrap().unwrap();
    let program = std::fs::read(&p).unwrap();
    assert!(!program.is_empty() && program.len().is_multiple_of(8));
    // The same section is compiled once; another is another program.
    assert_eq!(precompiled(&oci, dir.path()).unwrap().unwrap(), p);
    let other = Profile::parse(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    assert_ne!(
        precompiled(&other.section(&[], &Host::current()).unwrap(), dir.path())
            .unwrap()
            .unwrap(),
        p
    );
    // Loaded in a child, the program denies what the profile denies.
    // SAFETY: the child only makes syscalls and exits.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let code = (|| {
                libcontainer::seccomp::load_bpf(&program).ok()?;
                // SAFETY: raw syscalls with harmless arguments.
                let keys = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
                let denied =
                    keys < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
                let pid = unsafe { libc::getpid() };
                Some(if denied && pid > 0 { 0 } else { 2 })
            })()
            .unwrap_or(3);
            unsafe { libc::_exit(code) };
        }
        nix::unistd::ForkResult::Parent { child } => {
            let st = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
        }
    }
    // Notify filters are left to the runtime.
    let notify = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    let notify: LinuxSeccomp = serde_json::from_value(notify).unwrap();
    assert_eq!(precompiled(&notify, dir.path()).unwrap(), None);
    assert!(libcontainer::seccomp::load_bpf(&[1, 2, 3]).is_err());
}

/// Whatever `check` accepts the runtime's types hold: a profile is refused
/// at create, never at start.
#[test]
fn every_action_operator_flag_and_architecture_converts() {
    let syscalls: Vec<Value> = ACTIONS
        .iter()
        .zip(OPS.iter().cycle())
        .map(|(action, op)| json!({"names": ["mkdir"], "action": action, "args": [{"index": 0, "value": 1, "op": op}]}))
        .chain(OPS.iter().map(|op| json!({"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "valueTwo": 2, "op": op}]})))
        .collect();
    let profile = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ARCHES,
        "flags": FLAGS,
        "listenerPath": "/run/x.sock",
        "syscalls": syscalls,
    });
    let p = Profile::parse(&profile.to_string()).unwrap();
    let section = p.section(&[], &amd64()).unwrap();
    assert_eq!(
        section.architectures().as_ref().unwrap().len(),
        ARCHES.len()
    );
    assert_eq!(section.flags().as_ref().unwrap().len(), FLAGS.len());
    assert_eq!(
        section.syscalls().as_ref().unwrap().len(),
        ACTIONS.len() + OPS.len()
    );
}
