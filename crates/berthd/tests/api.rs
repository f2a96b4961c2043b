//! The Engine API itself: version prefixes and negotiation, dockerd's error
//! shapes, and hostile or malformed input that must leave the store as it was.

mod common;

use common::*;

fn get(d: &Daemon, path: &str) -> (u16, String) {
    raw_http(&d.socket, "GET", path, "application/json", b"")
}

fn post(d: &Daemon, path: &str, body: &str) -> (u16, String) {
    raw_http(&d.socket, "POST", path, "application/json", body.as_bytes())
}

fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(String::from))
        .unwrap_or_else(|| format!("<not an error body: {body}>"))
}

#[test]
fn ping_version_prefixes_and_negotiation() {
    let d = Daemon::start();
    let (s, b) = get(&d, "/_ping");
    assert_eq!((s, b.as_str()), (200, "OK"));
    let (s, _) = raw_http(&d.socket, "HEAD", "/_ping", "text/plain", b"");
    assert_eq!(s, 200);
    for p in [
        "/version",
        "/v1.47/version",
        "/v1.24/version",
        "/v1.40/info",
    ] {
        assert_eq!(get(&d, p).0, 200, "{p}");
    }
    let (s, b) = get(&d, "/v1.99/version");
    assert_eq!(s, 400);
    assert!(
        message(&b).contains("is too new. Maximum supported API version is 1.47"),
        "{b}"
    );
    let (s, b) = get(&d, "/v1.12/version");
    assert_eq!(s, 400, "{b}");
    let (s, b) = get(&d, "/v1.47/no/such/path");
    assert_eq!(s, 404, "{b}");
    // Api-Version header on every answer.
    use std::io::{Read, Write};
    let mut c = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    c.write_all(b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = String::new();
    c.read_to_string(&mut r).unwrap();
    assert!(r.to_ascii_lowercase().contains("api-version: 1.47"), "{r}");
}

#[test]
fn errors_are_dockerd_shaped() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let (s, b) = get(&d, "/containers/nope/json");
    assert_eq!(
        (s, message(&b)),
        (404, "No such container: nope".to_string())
    );
    let (s, b) = get(&d, "/images/nope/json");
    assert_eq!(
        (s, message(&b)),
        (404, "No such image: nope:latest".to_string())
    );
    let (s, b) = post(
        &d,
        "/containers/create?name=dup",
        r#"{"Image":"busybox","Cmd":["true"]}"#,
    );
    assert_eq!(s, 201, "{b}");
    let (s, b) = post(
        &d,
        "/containers/create?name=dup",
        r#"{"Image":"busybox","Cmd":["true"]}"#,
    );
    assert_eq!(s, 409);
    assert!(
        message(&b).contains("The container name \"/dup\" is already in use"),
        "{b}"
    );
    let (s, b) = post(
        &d,
        "/containers/create?name=bad%20name",
        r#"{"Image":"busybox"}"#,
    );
    assert_eq!(s, 400, "{b}");
    // Image in use: 409 unless forced.
    let (s, b) = raw_http(
        &d.socket,
        "DELETE",
        "/images/busybox",
        "application/json",
        b"",
    );
    assert_eq!(s, 409, "{b}");
    assert!(message(&b).contains("must force"), "{b}");
    // Running container: remove and start conflicts, stop of a stopped one is 304.
    let (_, b) = post(
        &d,
        "/containers/create?name=sleeper",
        r#"{"Image":"busybox","Cmd":["sleep","100"]}"#,
    );
    assert!(b.contains("Id"));
    assert_eq!(post(&d, "/containers/sleeper/start", "").0, 204);
    assert_eq!(post(&d, "/containers/sleeper/start", "").0, 304);
    let (s, b) = raw_http(
        &d.socket,
        "DELETE",
        "/containers/sleeper",
        "application/json",
        b"",
    );
    assert_eq!(s, 409);
    assert!(message(&b).contains("container is running"), "{b}");
    let (s, b) = post(&d, "/containers/sleeper/kill?signal=SIGNOPE", "");
    assert_eq!(s, 400, "{b}");
    assert_eq!(post(&d, "/containers/sleeper/kill", "").0, 204);
    eventually("stopped", 10, || {
        get(&d, "/containers/sleeper/json")
            .1
            .contains("\"Running\":false")
    });
    assert_eq!(post(&d, "/containers/sleeper/stop", "").0, 304);
    let (s, b) = post(&d, "/containers/sleeper/kill", "");
    assert_eq!(s, 409, "{b}");
    let (s, _) = post(&d, "/containers/sleeper/wait?condition=sometimes", "");
    assert_eq!(s, 400);
}

#[test]
fn malformed_create_bodies_are_400() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let cases = [
        ("{", "invalid JSON"),
        (r#"{"Image":"busybox","Tty":"yes"}"#, "invalid JSON"),
        (
            r#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#,
            "invalid JSON",
        ),
        (r#"{"Image":"busybox","Cmd":[1,2]}"#, "invalid JSON"),
        (r#"["not","an","object"]"#, "invalid JSON"),
        (r#"{"Image":""}"#, "config cannot be empty"),
        (
            r#"{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}"#,
            "invalid restart policy",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"Memory":1024}}"#,
            "Minimum memory limit",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"CapAdd":["CAP_NOPE"]}}"#,
            "unknown capability",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"NanoCpus":99000000000}}"#,
            "Range of CPUs",
        ),
        (
            r#"{"Image":"busybox","WorkingDir":"relative"}"#,
            "absolute path",
        ),
        (
            r#"{"Image":"busybox","StopSignal":"SIGWHAT"}"#,
            "Invalid signal",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"syslog"}}}"#,
            "logger: no log driver named 'syslog' is registered",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"bogus"}}}"#,
            "logger: no log driver named 'bogus' is registered",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-size":"huge"}}}}"#,
            "max-size",
        ),
        (r#"{"Image":"Bad Name"}"#, "invalid reference format"),
        (
            r#"{"Image":"busybox","HostConfig":{"Binds":["/tmp"]}}"#,
            "invalid volume specification",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"PortBindings":{"http/tcp":[{"HostPort":"8080"}]}}}"#,
            "invalid port specification",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"99999"}]}}}"#,
            "invalid port specification: \"99999\"",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"PortBindings":{"80/sctp":[{"HostPort":"80"}]}}}"#,
            "invalid proto",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"not-an-ip"}]}}}"#,
            "invalid host IP",
        ),
        (
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"bridge":{"IPAMConfig":{"IPv4Address":"10.0.0.9"}}}}}"#,
            "user defined networks only",
        ),
        (
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"bridge":{"MacAddress":"zz:zz"}}}}"#,
            "invalid MAC address",
        ),
        (
            r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":"bridge"}}"#,
            "invalid EndpointsConfig",
        ),
    ];
    for (body, want) in cases {
        let (s, b) = post(&d, "/containers/create", body);
        assert_eq!(s, 400, "{body} -> {b}");
        assert!(
            message(&b).contains(want),
            "{body}: expected {want:?} in {b}"
        );
    }
    let (s, _) = post(&d, "/containers/create", r#"{"Image":"nosuch"}"#);
    assert_eq!(s, 404);
    let (_, b) = get(&d, "/containers/json?all=1");
    assert_eq!(b.trim(), "[]", "nothing was created");
    let (s, _) = get(&d, "/containers/json?filters=%7Bbad");
    assert_eq!(s, 400);
    let (s, _) = get(
        &d,
        "/containers/json?filters=%7B%22status%22%3A%5B%22sleepy%22%5D%7D",
    );
    assert_eq!(s, 400);
}

/// The data root's blobs, snapshots and image list, to compare before and after.
fn store_state(d: &Daemon) -> (Vec<String>, String) {
    let mut files = Vec::new();
    for sub in ["blobs/sha256", "snapshots"] {
        if let Ok(rd) = std::fs::read_dir(d.data_root().join(sub)) {
            files.extend(
                rd.flatten()
                    .map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())),
            );
        }
    }
    files.sort();
    (files, get(d, "/images/json").1)
}

fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().unwrap()
}

fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.set_link_name(l).unwrap();
    }
    h.set_cksum();
    b.append(&h, data).unwrap();
}

#[test]
fn hostile_archives_are_refused_and_change_nothing() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let before = store_state(&d);
    let outside = d.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let escape_target = outside.to_str().unwrap().to_string();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "dot-dot member",
            tar_with(|b| raw_entry(b, "../../escaped", tar::EntryType::Regular, None, b"x")),
        ),
        (
            "write through absolute symlink",
            tar_with(|b| {
                raw_entry(
                    b,
                    "evil",
                    tar::EntryType::Symlink,
                    Some(&escape_target),
                    b"",
                );
                raw_entry(b, "evil/payload", tar::EntryType::Regular, None, b"x");
            }),
        ),
        (
            "write through escaping symlink",
            tar_with(|b| {
                raw_entry(
                    b,
                    "up",
                    tar::EntryType::Symlink,
                    Some("../../../../../../../../tmp"),
                    b"",
                );
                raw_entry(
                    b,
                    "up/berth-escape-payload",
                    tar::EntryType::Regular,
                    None,
                    b"x",
                );
            }),
        ),
        (
            "hard link outside",
            tar_with(|b| raw_entry(b, "h", tar::EntryType::Link, Some("/etc/shadow"), b"")),
        ),
        (
            "device node",
            tar_with(|b| raw_entry(b, "dev/sda", tar::EntryType::Block, None, b"")),
        ),
        ("truncated", {
            let t = tar_with(|b| raw_entry(b, "big", tar::EntryType::Regular, None, &[1u8; 8000]));
            t[..3000].to_vec()
        }),
        (
            "not a tar",
            b"this is not a tar archive at all, just some words".repeat(20),
        ),
    ];
    for (what, archive) in &cases {
        // As an import (a root file system) ...
        let (s, b) = raw_http(
            &d.socket,
            "POST",
            "/images/create?fromSrc=-&repo=evil",
            "application/x-tar",
            archive,
        );
        assert_eq!(s, 400, "import of {what}: {b}");
        assert!(!message(&b).is_empty());
        // ... and as a docker-save archive.
        let (s, b) = raw_http(
            &d.socket,
            "POST",
            "/images/load",
            "application/x-tar",
            archive,
        );
        assert_eq!(s, 400, "load of {what}: {b}");
        assert_eq!(store_state(&d), before, "{what} changed the store");
    }
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing written outside"
    );
    assert!(!std::path::Path::new("/tmp/berth-escape-payload").exists());
}

#[test]
fn load_with_wrong_digests_changes_nothing() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let saved = d.dir.path().join("s.tar");
    assert_ok(&d.berth(&["save", "-o", saved.to_str().unwrap(), "busybox"]));
    let before = store_state(&d);
    // Rewrite one layer blob's content but keep its digest name.
    let mut ar = tar::Archive::new(std::fs::File::open(&saved).unwrap());
    let mut out = tar::Builder::new(Vec::new());
    let mut tampered = false;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if !tampered && data.len() > 100_000 {
            data[50_000] ^= 0xff;
            tampered = true;
        }
        let mut h = e.header().clone();
        out.append_data(&mut h, path, &data[..]).unwrap();
    }
    assert!(tampered);
    let (s, b) = raw_http(
        &d.socket,
        "POST",
        "/images/load",
        "application/x-tar",
        &out.into_inner().unwrap(),
    );
    assert_eq!(s, 400, "{b}");
    assert!(
        message(&b).contains("digest mismatch") || message(&b).contains("mismatch"),
        "{b}"
    );
    assert_eq!(store_state(&d), before);
}

#[test]
fn wait_conditions_and_logs_options() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let id = stdout(&d.berth(&[
        "create",
        "busybox",
        "sh",
        "-c",
        "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three",
    ]))
    .trim()
    .to_string();
    // A next-exit wait registered before start sees the exit.
    let waiter = {
        let sock = d.socket.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            raw_http(
                &sock,
                "POST",
                &format!("/containers/{id}/wait?condition=next-exit"),
                "application/json",
                b"",
            )
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(post(&d, &format!("/containers/{id}/start"), "").0, 204);
    let (s, b) = waiter.join().unwrap();
    assert_eq!(s, 200);
    assert!(b.contains("\"StatusCode\":0"), "{b}");
    // not-running on a stopped container answers at once.
    let (_, b) = post(&d, &format!("/containers/{id}/wait"), "");
    assert!(b.contains("\"StatusCode\":0"), "{b}");
    let out = d.berth(&["logs", &id]);
    assert_eq!(stdout(&out), "one\nthree\n");
    assert_eq!(stderr(&out), "two\n");
    assert_eq!(stdout(&d.berth(&["logs", "--tail", "1", &id])), "three\n");
    let ts = stdout(&d.berth(&["logs", "-t", &id]));
    assert!(
        ts.lines()
            .all(|l| l.len() > 30 && l.contains('T') && l.contains('Z')),
        "{ts}"
    );
    assert_eq!(
        stdout(&d.berth(&["logs", "--since", "2030-01-01T00:00:00Z", &id])),
        ""
    );
    let (s, _) = get(&d, &format!("/containers/{id}/logs"));
    assert_eq!(s, 400, "no stream chosen");
    // removed: answers once the container is gone.
    let waiter = {
        let sock = d.socket.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            raw_http(
                &sock,
                "POST",
                &format!("/containers/{id}/wait?condition=removed"),
                "application/json",
                b"",
            )
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_ok(&d.berth(&["rm", &id]));
    let (s, b) = waiter.join().unwrap();
    assert_eq!(s, 200, "{b}");
    // logs -f ends when the container exits.
    let id = stdout(&d.berth(&[
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo f$i; sleep 0.2; done",
    ]))
    .trim()
    .to_string();
    let out = d.berth(&["logs", "-f", &id]);
    assert_eq!(stdout(&out), "f1\nf2\nf3\n");
}

#[test]
fn filters_on_lists() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    d.import_busybox("other:1");
    assert_ok(&d.berth(&[
        "run", "-d", "--name", "a1", "-l", "team=x", "busybox", "sleep", "100",
    ]));
    assert_eq!(
        code(&d.berth(&["run", "--name", "b1", "other:1", "sh", "-c", "exit 3"])),
        3
    );
    assert_ok(&d.berth(&["create", "--name", "c1", "busybox", "true"]));
    let names = |args: &[&str]| {
        let mut v: Vec<String> =
            stdout(&d.berth(&[&["ps", "--format", "{{.Names}}"], args].concat()))
                .lines()
                .map(String::from)
                .collect();
        v.sort();
        v.join(",")
    };
    assert_eq!(names(&[]), "a1");
    assert_eq!(names(&["-a"]), "a1,b1,c1");
    assert_eq!(names(&["-a", "-f", "status=exited"]), "b1");
    assert_eq!(names(&["-a", "-f", "status=created"]), "c1");
    assert_eq!(names(&["-a", "-f", "label=team=x"]), "a1");
    assert_eq!(names(&["-a", "-f", "exited=3"]), "b1");
    assert_eq!(names(&["-a", "-f", "ancestor=other:1"]), "b1");
    assert_eq!(names(&["-a", "-f", "name=c"]), "c1");
    assert_eq!(names(&["-a", "-n", "1"]), "c1");
    let imgs = |args: &[&str]| {
        stdout(&d.berth(&[&["images", "--format", "{{.Repository}}:{{.Tag}}"], args].concat()))
            .lines()
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(imgs(&["-f", "reference=oth*"]), "other:1");
    assert_eq!(imgs(&["-f", "dangling=true"]), "");
    let prune = d.berth(&["container", "prune", "-f"]);
    assert_ok(&prune);
    assert_eq!(names(&["-a"]), "a1");
    assert_ok(&d.berth(&["rm", "-f", "a1"]));
}

/// `null` for any field is its zero value, as Go's decoder makes it:
/// clients (docker-py, compose) send `"Env": null`, `"IPAMConfig": null`
/// and null strings in endpoint configs.
#[test]
fn nulls_are_zero_values() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let (s, body) = post(
        &d,
        "/containers/create?name=nulls",
        r#"{"Image":"busybox","Cmd":["true"],"Env":null,"Labels":null,"Entrypoint":null,"WorkingDir":null,
            "HostConfig":{"Binds":null,"PortBindings":null,"Memory":null,"RestartPolicy":null,"LogConfig":null,"Dns":null},
            "NetworkingConfig":{"EndpointsConfig":{"bridge":{"IPAMConfig":null,"Aliases":null,"MacAddress":null,"Links":null,"IPAddress":null}}}}"#,
    );
    assert_eq!(s, 201, "{body}");
    let (s, body) = post(&d, "/containers/nulls/start", "");
    assert_eq!(s, 204, "{body}");
    let subnet = format!("10.{}.220.0/24", d.pool);
    let (s, body) = post(
        &d,
        "/networks/create",
        &format!(
            r#"{{"Name":"nullnet","Driver":null,"Options":null,"Labels":null,"IPAM":{{"Driver":null,"Options":null,"Config":[{{"Subnet":"{subnet}","Gateway":null,"IPRange":null}}]}}}}"#
        ),
    );
    assert_eq!(s, 201, "{body}");
    assert_ok(&d.docker(&["run", "-d", "--name", "joiner", "busybox", "sleep", "100"]));
    let (s, body) = post(
        &d,
        "/networks/nullnet/connect",
        r#"{"Container":"joiner","EndpointConfig":{"IPAMConfig":null,"Aliases":null,"MacAddress":null}}"#,
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(&d, "/containers/create", r#"{"Image":null}"#);
    assert_eq!(s, 400, "a null image is no image: {body}");
}

/// Stats carry `networks` (per interface of the container's namespace)
/// and blkio lists, as dockerd's do; the docker CLI shows NET I/O from them.
#[test]
fn stats_networks_and_blkio() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    // Traffic to the daemon's own bridge (the gateway), nowhere else.
    assert_ok(&d.docker(&[
        "run", "-d", "--name", "talker", "busybox", "sh", "-c",
        "ping -c 3 -i 0.2 $(ip route | awk '/default/ {print $3}'); dd if=/dev/zero of=/tmp/f bs=64k count=16; sync; sleep 100",
    ]));
    eventually("the pings sent", 20, || {
        let (_, body) = get(&d, "/containers/talker/stats?stream=false");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["networks"]["eth0"]["tx_packets"].as_u64().unwrap_or(0) >= 3
    });
    let (s, body) = get(&d, "/containers/talker/stats?stream=false");
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["networks"].get("lo").is_none(), "{}", v["networks"]);
    assert!(
        v["networks"]["eth0"]["rx_bytes"].as_u64().unwrap() > 0,
        "{}",
        v["networks"]
    );
    for list in ["io_service_bytes_recursive", "io_serviced_recursive"] {
        assert!(
            v["blkio_stats"][list].is_array(),
            "{list}: {}",
            v["blkio_stats"]
        );
    }
    let cli = stdout(&d.docker(&["stats", "--no-stream", "--format", "{{.NetIO}}", "talker"]));
    assert!(!cli.trim().starts_with("0B"), "{cli}");
    // Host networking: the host's counters are not the container's.
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "onhost",
        "--network",
        "host",
        "busybox",
        "sleep",
        "100",
    ]));
    let (_, body) = get(&d, "/containers/onhost/stats?stream=false");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v.get("networks").is_none(), "{}", v["networks"]);
}

/// `/info` reports what configuration and the host say, `system df` the
/// build cache there is, inspect the container's exec instances.
#[test]
fn info_df_and_exec_ids_are_true() {
    let d = Daemon::start_with(serde_json::json!({
        "insecure-registries": ["10.99.0.0/16", "myreg.test:5000"],
        "registry-mirrors": ["https://mirror.test"],
    }));
    d.import_busybox("busybox");
    let info = |f: &str| {
        stdout(&d.docker(&["info", "--format", f]))
            .trim()
            .to_string()
    };
    let reg = info("{{json .RegistryConfig}}");
    for want in [
        "\"10.99.0.0/16\"",
        "\"127.0.0.0/8\"",
        "\"myreg.test:5000\":{",
        "\"Mirrors\":[\"https://mirror.test/\"]",
    ] {
        assert!(reg.contains(want), "{want} in {reg}");
    }
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    assert_eq!(
        info("{{.IPv4Forwarding}}"),
        (forwarding.trim() == "1").to_string()
    );
    assert!(info("{{json .Plugins.Network}}").contains("\"bridge\""));
    // The pools the harness configured, as daemon.json gave them.
    let pools = info("{{json .DefaultAddressPools}}");
    assert!(
        pools.contains(&format!("\"Base\":\"10.{}.", d.pool)),
        "{pools}"
    );
    assert_eq!(info("{{.NEventsListener}}"), "0");
    let mut events = std::process::Command::new(DOCKER)
        .env("DOCKER_HOST", d.host())
        .arg("events")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("a listener", 10, || info("{{.NEventsListener}}") == "1");
    let _ = events.kill();
    let _ = events.wait();

    // Build cache: the step images no tag names.
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n",
    )
    .unwrap();
    let mut build = std::process::Command::new(DOCKER);
    build
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_BUILDKIT", "0");
    build.args(["build", "-q", "-t", "steps", ctx.to_str().unwrap()]);
    assert_ok(&build.output().unwrap());
    let df = stdout(&d.docker(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]));
    assert!(df.lines().any(|l| l == "Build Cache=1"), "{df}");
    let (_, body) = get(&d, "/system/df");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["BuildCache"][0]["Description"]
            .as_str()
            .unwrap()
            .contains("echo a"),
        "{}",
        v["BuildCache"]
    );

    // ExecIDs: null without execs, then the exec's ID.
    assert_ok(&d.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "100"]));
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{json .ExecIDs}}", "ex"])).trim(),
        "null"
    );
    let (s, body) = post(&d, "/containers/ex/exec", r#"{"Cmd":["true"]}"#);
    assert_eq!(s, 201);
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{json .ExecIDs}}", "ex"])).trim(),
        format!("[\"{id}\"]")
    );
}

/// Creates at once, none named: every one gets a name of its own (a name
/// is held from the moment it is picked), never a name conflict.
#[test]
fn concurrent_creates_get_distinct_names() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let socket = d.socket.clone();
            std::thread::spawn(move || {
                (0..60)
                    .map(|_| {
                        raw_http(
                            &socket,
                            "POST",
                            "/containers/create",
                            "application/json",
                            br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#,
                        )
                    })
                    .filter(|(s, _)| *s != 201)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let failed: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let (_, body) = get(&d, "/containers/json?all=1");
    let list: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let names: std::collections::HashSet<String> = list
        .iter()
        .map(|c| c["Names"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!((list.len(), names.len()), (480, 480));
}
