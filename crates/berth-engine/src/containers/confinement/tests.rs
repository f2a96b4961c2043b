use serde_json::json;

use super::*;

fn opts(v: &[&str]) -> Result<SecurityOpts> {
    parse_security_opts(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

#[test]
fn security_opts_as_dockerd_parses_them() {
    let o = opts(&["no-new-privileges"]).unwrap();
    assert_eq!(o.no_new_privileges, Some(true));
    let o = opts(&["no-new-privileges=false", "seccomp=unconfined"]).unwrap();
    assert_eq!(o.no_new_privileges, Some(false));
    assert!(matches!(o.seccomp, Some(Seccomp::Unconfined)));
    // The old `:` separator, AppArmor and labels (no effect on this host).
    let o = opts(&[
        "no-new-privileges:true",
        "apparmor=docker-default",
        "label=disable",
        "label:type:x",
    ])
    .unwrap();
    assert_eq!(o.no_new_privileges, Some(true));
    let o = opts(&[r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#]).unwrap();
    assert!(matches!(o.seccomp, Some(Seccomp::Profile(_))));
    for (bad, want) in [
        ("bogus=1", r#"invalid --security-opt 2: "bogus=1""#),
        ("bogus", r#"invalid --security-opt 1: "bogus""#),
        (
            "no-new-privileges=maybe",
            r#"invalid --security-opt 2: "no-new-privileges=maybe""#,
        ),
        ("writable-cgroups=2", "invalid --security-opt 2"),
        ("seccomp=/etc/passwd", "Decoding seccomp profile failed"),
        (
            "seccomp={\"defaultAction\":\"X\"}",
            "unrecognized default action",
        ),
    ] {
        let e = opts(&[bad]).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{bad}");
        assert!(e.to_string().contains(want), "{bad}: {e}");
    }
}

fn hc(v: serde_json::Value) -> HostConfig {
    serde_json::from_value(v).unwrap()
}

#[test]
fn validation_matches_dockerd() {
    for (cfg, want) in [
        (
            json!({"CgroupnsMode": "shared"}),
            "invalid cgroup namespace mode: shared",
        ),
        (json!({"IpcMode": "bogus"}), "invalid IPC mode: bogus"),
        (
            json!({"IpcMode": "container:"}),
            "invalid IPC mode: container:",
        ),
        (json!({"PidMode": "private"}), "invalid PID mode: private"),
        (json!({"UTSMode": "other"}), "invalid UTS mode: other"),
        (
            json!({"OomScoreAdj": 99999}),
            "Invalid value 99999, range for oom score adj is [-1000, 1000]",
        ),
        (
            json!({"Ulimits": [{"Name": "nofiles", "Soft": 1, "Hard": 1}]}),
            "invalid ulimit type: nofiles",
        ),
        (
            json!({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}),
            "soft limit must be less than or equal to hard limit: 10 > 5",
        ),
        (
            json!({"Ulimits": [{"Name": "nofile", "Soft": -5, "Hard": 5}]}),
            "invalid ulimit nofile",
        ),
        (
            json!({"Sysctls": {"vm.swappiness": "1"}}),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        ),
        (
            json!({"Sysctls": {"kernel.shmmax": "1"}, "IpcMode": "host"}),
            "not allowed in host IPC namespace",
        ),
        (
            json!({"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"}),
            "not allowed in host network namespace",
        ),
        (json!({"Sysctls": {"net.../../x": "1"}}), "invalid sysctl"),
        (
            json!({"DeviceCgroupRules": ["c 1:3"]}),
            "invalid device cgroup rule format",
        ),
        (
            json!({"DeviceCgroupRules": ["x 1:3 rwm"]}),
            "invalid device cgroup rule format",
        ),
        (
            json!({"DeviceCgroupRules": ["c 1:z rwm"]}),
            "invalid device cgroup rule format",
        ),
        (
            json!({"DeviceCgroupRules": ["c 1:3 rwx"]}),
            "invalid device cgroup rule format",
        ),
        (
            json!({"BlkioWeight": 65535}),
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            json!({"BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]}),
            "not a block device",
        ),
        (
            json!({"BlkioDeviceReadBps": [{"Path": "/dev/loop0", "Rate": -1}]}),
            "cannot be negative",
        ),
        (
            json!({"Devices": [{"PathOnHost": "/etc/passwd", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]}),
            "not a device node",
        ),
        (
            json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rwx"}]}),
            "invalid device mode: rwx",
        ),
        (
            json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "relative", "CgroupPermissions": "rwm"}]}),
            "invalid device path in container",
        ),
    ] {
        let e = validate(&hc(cfg.clone()), "").unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{cfg}");
        assert!(e.to_string().contains(want), "{cfg}: {e}");
    }
    let e = validate(&hc(json!({"UTSMode": "host"})), "myhost").unwrap_err();
    assert!(e.to_string().contains("hostname and the UTS mode"));
    // What dockerd accepts.
    validate(
        &hc(json!({
            "CgroupnsMode": "private", "IpcMode": "container:db", "PidMode": "host",
            "OomScoreAdj": -1000, "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": -1}],
            "Sysctls": {"net.ipv4.ip_local_port_range": "1024 2048", "kernel.shmmax": "1", "fs.mqueue.msg_max": "5"},
            "DeviceCgroupRules": ["c 1:3 rwm", "b *:* m", "a"],
            "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}],
        })),
        "",
    )
    .unwrap();
}

#[test]
fn device_rules() {
    let json = |r| serde_json::to_value(r).unwrap();
    assert_eq!(
        json(parse_device_rule("c 42:* rmw").unwrap()),
        json!({"allow": true, "type": "c", "major": 42, "access": "rmw"})
    );
    assert_eq!(
        json(parse_device_rule("a").unwrap()),
        json!({"allow": true, "type": "a", "access": "rwm"})
    );
}

#[test]
fn devices_map_to_nodes_and_rules() {
    let (nodes, rules) = mapped_devices(&hc(json!({"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"}]}))).unwrap();
    assert_eq!(nodes[0].path(), Path::new("/dev/mynull"));
    assert_eq!((nodes[0].major(), nodes[0].minor()), (1, 3));
    assert_eq!(
        serde_json::to_value(&rules[0]).unwrap(),
        json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"})
    );
    let all = host_devices();
    assert!(all.iter().any(|(p, _)| p == "/dev/null"));
    assert!(!all.iter().any(|(p, _)| p.starts_with("/dev/pts/")));
}
