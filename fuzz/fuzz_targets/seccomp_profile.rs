//! Docker-format seccomp profiles (`--security-opt seccomp=…`, daemon.json
//! `seccomp-profile`): parse, check, and render for a container.
#![no_main]
use berth_runtime::seccomp::{Host, Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Profile::parse(text) {
        let caps = vec!["CAP_SYS_ADMIN".to_string()];
        let host = Host { arch: "amd64", seccomp_arch: "SCMP_ARCH_X86_64", kernel: (6, 1) };
        // What the check accepts the runtime's types hold: a profile is
        // refused at create, never at start.
        p.section(&caps, &host).expect("a checked profile converts to the OCI section");
    }
});
