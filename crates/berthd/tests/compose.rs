//! What Compose does to a daemon, and what broke against berthd (the compose
//! issue's list), driven through the docker CLI and the API as Compose
//! drives them: a service recreated with its fixed address, a network that
//! must look as it was made, docker-compose 1.x's null fields, sysctls and
//! ulimits from a service's definition.

mod common;

use common::*;

#[test]
fn a_fixed_address_comes_free_for_the_recreated_service() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let subnet = format!("10.{}.210.0/24", d.pool);
    let ip = format!("10.{}.210.50", d.pool);
    assert_ok(&d.docker(&["network", "create", "--subnet", &subnet, "app"]));
    // Compose's recreate: the new container is made while the old one runs,
    // then the old is removed and the new started at once.
    for round in 0..5 {
        let (old, new) = (format!("svc{round}"), format!("svc{}", round + 1));
        if round == 0 {
            assert_ok(&d.docker(&[
                "run",
                "-d",
                "--name",
                &old,
                "--network",
                "app",
                "--ip",
                &ip,
                "busybox",
                "sleep",
                "100",
            ]));
        }
        assert_ok(&d.docker(&[
            "create",
            "--name",
            &new,
            "--network",
            "app",
            "--ip",
            &ip,
            "busybox",
            "sleep",
            "100",
        ]));
        // Back to back through the API, as Compose calls it (a CLI process
        // between the calls would hide the window): stop, remove, start.
        for (method, path, want) in [
            ("POST", format!("/v1.47/containers/{old}/stop?t=0"), 204),
            ("DELETE", format!("/v1.47/containers/{old}"), 204),
        ] {
            let (status, answer) = raw_http(&d.socket, method, &path, "application/json", b"");
            assert_eq!(status, want, "{path}: {answer}");
        }
        let (status, answer) = raw_http(
            &d.socket,
            "POST",
            &format!("/v1.47/containers/{new}/start"),
            "application/json",
            b"",
        );
        assert_eq!(status, 204, "round {round}: {answer}");
        let got = d.docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.app.IPAddress}}",
            &new,
        ]);
        assert_eq!(stdout(&got).trim(), ip, "round {round}");
    }
    // An address a running container holds is still refused, at once.
    assert_ok(&d.docker(&[
        "create",
        "--name",
        "thief",
        "--network",
        "app",
        "--ip",
        &ip,
        "busybox",
        "true",
    ]));
    let t = std::time::Instant::now();
    let refused = d.docker(&["start", "thief"]);
    assert_fails_with(&refused, "Address already in use");
    assert!(t.elapsed().as_secs() < 2, "no wait for a held address");
    assert_ok(&d.docker(&["rm", "-f", "svc5", "thief"]));
    assert_ok(&d.docker(&["network", "rm", "app"]));
}

#[test]
fn networks_show_the_options_they_were_made_with() {
    let d = Daemon::start();
    assert_ok(&d.docker(&["network", "create", "plain"]));
    let opts = d.docker(&["network", "inspect", "-f", "{{json .Options}}", "plain"]);
    assert_eq!(
        stdout(&opts).trim(),
        "{}",
        "docker-compose 1.x compares them"
    );
    let bridge = format!("brc{}", std::process::id() % 100_000);
    assert_ok(&d.docker(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={bridge}"),
        "named",
    ]));
    let opts = d.docker(&["network", "inspect", "-f", "{{json .Options}}", "named"]);
    assert_eq!(
        stdout(&opts).trim(),
        format!(r#"{{"com.docker.network.bridge.name":"{bridge}"}}"#)
    );
    let listed = d.docker(&[
        "network",
        "ls",
        "--filter",
        "name=plain",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(stdout(&listed).trim(), "plain");
    assert_ok(&d.docker(&["network", "rm", "plain", "named"]));
}

#[test]
fn null_fields_from_docker_compose_1_are_absent() {
    let d = Daemon::start();
    let subnet = format!("10.{}.211.0/24", d.pool);
    // docker-compose 1.29's body for `ipam: {config: [{subnet: …}]}`.
    let body = format!(
        r#"{{"Name": "v1net", "Driver": null, "Options": {{}}, "IPAM": {{"Driver": null, "Config": [{{"Subnet": "{subnet}", "IPRange": null, "Gateway": null, "AuxiliaryAddresses": null}}], "Options": null}}, "Internal": false, "EnableIPv6": false, "Labels": {{"com.docker.compose.network": "default"}}}}"#
    );
    let (status, answer) = raw_http(
        &d.socket,
        "POST",
        "/v1.47/networks/create",
        "application/json",
        body.as_bytes(),
    );
    assert_eq!(status, 201, "{answer}");
    let got = d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        "v1net",
    ]);
    assert_eq!(
        stdout(&got).trim(),
        format!("bridge {subnet} 10.{}.211.1", d.pool)
    );
    // A wrong type is still refused, and nothing is made.
    let (status, _) = raw_http(
        &d.socket,
        "POST",
        "/v1.47/networks/create",
        "application/json",
        br#"{"Name": "bad", "IPAM": {"Config": [{"Subnet": 5}]}}"#,
    );
    assert_eq!(status, 400);
    assert_ne!(code(&d.docker(&["network", "inspect", "bad"])), 0);
    assert_ok(&d.docker(&["network", "rm", "v1net"]));
}

#[test]
fn sysctls_and_ulimits_reach_the_container() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let out = d.docker(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_local_port_range=1024 2048",
        "--ulimit",
        "nofile=1024:2048",
        "--ulimit",
        "nproc=512",
        "busybox",
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_local_port_range; ulimit -n; ulimit -Hn; ulimit -u",
    ]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "1024\t2048\n1024\n2048\n512\n");
}

/// docker-compose 1.29 (Debian's), against this daemon, in `dir`.
fn compose_v1(d: &Daemon, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker-compose")
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", d.host())
        .env("COMPOSE_PROJECT_NAME", "v1app")
        .env("DOCKER_CONFIG", d.dir.path().join("docker-config"))
        .output()
        .expect("docker-compose (scripts/deps.sh installs it)")
}

#[test]
fn docker_compose_1_up_twice_recreate_with_a_fixed_address_and_down() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let dir = d.dir.path().join("v1app");
    std::fs::create_dir_all(&dir).unwrap();
    let subnet = format!("10.{}.212.0/24", d.pool);
    let ip = format!("10.{}.212.20", d.pool);
    let file = |greeting: &str| {
        format!(
            r#"version: "2.4"
services:
  web:
    image: busybox
    command: sh -c 'echo "$$GREETING" > /data/greeting; sleep 1000'
    environment:
      GREETING: "{greeting}"
    sysctls:
      net.ipv4.ip_local_port_range: "1024 2048"
    ulimits:
      nofile:
        soft: 1024
        hard: 2048
    volumes:
      - data:/data
    networks:
      back:
        ipv4_address: {ip}
        aliases: [web-alias]
  probe:
    image: busybox
    command: sleep 1000
    networks: [back]
networks:
  back:
    ipam:
      config:
        - subnet: {subnet}
volumes:
  data: {{}}
"#
        )
    };
    std::fs::write(dir.join("docker-compose.yml"), file("hello")).unwrap();
    assert_ok(&compose_v1(&d, &dir, &["up", "-d"]));
    // A second up changes nothing (the network's options look as they were made).
    let again = compose_v1(&d, &dir, &["up", "-d"]);
    assert_ok(&again);
    assert!(
        !stderr(&again).contains("needs to be recreated"),
        "{}",
        stderr(&again)
    );
    let web = "v1app_web_1";
    let inside = d.docker(&[
        "exec",
        web,
        "sh",
        "-c",
        "cat /proc/sys/net/ipv4/ip_local_port_range; ulimit -n; ulimit -Hn; cat /data/greeting",
    ]);
    assert_eq!(stdout(&inside), "1024\t2048\n1024\n2048\nhello\n");
    let resolved = d.docker(&["exec", "v1app_probe_1", "nslookup", "web-alias"]);
    assert!(stdout(&resolved).contains(&ip), "{}", stdout(&resolved));
    // A change recreates web, which takes its fixed address again.
    std::fs::write(dir.join("docker-compose.yml"), file("again")).unwrap();
    let up = compose_v1(&d, &dir, &["up", "-d"]);
    assert_ok(&up);
    assert!(
        stderr(&up).contains("Recreating v1app_web_1"),
        "{}",
        stderr(&up)
    );
    let got = d.docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        web,
    ]);
    assert_eq!(stdout(&got).trim(), ip);
    let greeting = d.docker(&["exec", web, "cat", "/data/greeting"]);
    assert_eq!(stdout(&greeting), "again\n");
    assert_ok(&compose_v1(&d, &dir, &["down", "-v"]));
    let left = d.docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=com.docker.compose.project=v1app",
    ]);
    assert_eq!(stdout(&left), "", "no container left");
    let nets = d.docker(&["network", "ls", "-q", "--filter", "name=v1app"]);
    assert_eq!(stdout(&nets), "", "no network left");
    let vols = d.docker(&["volume", "ls", "-q", "--filter", "name=v1app"]);
    assert_eq!(stdout(&vols), "", "no volume left");
}
