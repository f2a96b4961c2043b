//! Networking end to end through the real docker CLI (and berth's): the
//! default bridge, published TCP and UDP ports, user networks with DNS and
//! isolation, connect/disconnect, network modes, and nothing left behind.

mod common;

use common::*;

/// Veths attached to the daemon's bridge (or any bridge named).
fn ports_on(bridge: &str) -> usize {
    let o = std::process::Command::new("ip")
        .args(["-br", "link", "show", "master", bridge])
        .output()
        .unwrap();
    stdout(&o).lines().filter(|l| !l.trim().is_empty()).count()
}

fn curl(url: &str) -> Option<String> {
    let o = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5", url])
        .output()
        .unwrap();
    o.status.success().then(|| stdout(&o))
}

/// An HTTP GET from a new container (busybox's static wget crashes in name lookups: nc it is).
fn fetch_from_container(d: &Daemon, extra: &[&str], host: &str, port: u16) -> std::process::Output {
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}");
    let mut args = vec!["run", "--rm"];
    args.extend(extra);
    args.extend(["busybox", "sh", "-c", &script]);
    d.docker(&args)
}

fn httpd(d: &Daemon, extra: &[&str], name: &str, body: &str) {
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(extra);
    args.extend(["busybox", "sh", "-c", &script]);
    assert_ok(&d.docker(&args));
}

/// A network's IPv6 switch and pools, as `EnableIPv6 subnet,gateway …`.
fn pools(d: &Daemon, network: &str) -> String {
    stdout(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{.Gateway}} {{end}}",
        network,
    ]))
}

/// What the container's port 80, published on `[::]` too, answers from the
/// host at the bridge's IPv6 address `gateway`.
fn over_ipv6_from_the_host(d: &Daemon, container: &str, gateway: &str) -> String {
    let port = stdout(&d.docker(&["port", container, "80"]));
    assert!(
        port.contains("0.0.0.0:") && port.contains("[::]:"),
        "{port}"
    );
    let p = port
        .lines()
        .find(|l| l.starts_with("[::]:"))
        .and_then(|l| l.rsplit(':').next())
        .unwrap()
        .trim()
        .to_string();
    let body = std::process::Command::new("curl")
        .args(["-s", "-g", "--max-time", "5"])
        .arg(format!("http://[{gateway}]:{p}/"))
        .output()
        .unwrap();
    assert_ok(&body);
    stdout(&body)
}

#[test]
fn published_ports_tcp_udp_and_the_default_bridge() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    httpd(
        &d,
        &["-p", "80", "-p", "127.0.0.1::80"],
        "web",
        "hello-from-web",
    );
    // Ephemeral ports, as `docker port` shows them.
    let ports = stdout(&d.docker(&["port", "web", "80/tcp"]));
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    let any = lines.iter().find(|l| l.starts_with("0.0.0.0:")).unwrap();
    let port: u16 = any.rsplit(':').next().unwrap().parse().unwrap();
    eventually("httpd answers on the published port", 10, || {
        curl(&format!("http://127.0.0.1:{port}/")).is_some_and(|b| b.contains("hello-from-web"))
    });
    // `berth port` prints what `docker port` prints, with or without the private port.
    assert_eq!(stdout(&d.berth(&["port", "web", "80"])), ports);
    let all = stdout(&d.docker(&["port", "web"]));
    assert_eq!(stdout(&d.berth(&["port", "web"])), all);
    assert!(all.contains(&format!("80/tcp -> {any}")), "{all}");
    let o = d.berth(&["port", "web", "81"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("Error: No public port '81' published for web"),
        "{}",
        stderr(&o)
    );
    let lo = lines.iter().find(|l| l.starts_with("127.0.0.1:")).unwrap();
    assert!(curl(&format!("http://{lo}/"))
        .unwrap()
        .contains("hello-from-web"));
    // Straight to the container's address on the bridge, too.
    let ip = stdout(&d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]));
    let ip = ip.trim();
    assert!(ip.starts_with(&format!("10.{}.0.", d.pool)), "{ip}");
    assert!(curl(&format!("http://{ip}/"))
        .unwrap()
        .contains("hello-from-web"));
    // Another container reaches the published port through the bridge's gateway (hairpin).
    let gw = format!("10.{}.0.1", d.pool);
    let o = fetch_from_container(&d, &[], &gw, port);
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip", &d.nft_table])
        .output()
        .unwrap();
    assert!(
        stdout(&o).contains("hello-from-web"),
        "{} {}",
        stderr(&o),
        stdout(&rules)
    );
    // The published ports are elements of the DNAT maps while it runs.
    assert!(
        stdout(&rules).contains(&format!("tcp . {port} : {ip} . 80")),
        "{}",
        stdout(&rules)
    );
    // ps shows the ports; the container's /etc/hosts has its address.
    let ps = stdout(&d.docker(&["ps", "--format", "{{.Ports}}"]));
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    let hosts = stdout(&d.docker(&["exec", "web", "cat", "/etc/hosts"]));
    assert!(hosts.contains(ip), "{hosts}");

    // UDP: a datagram to the published port reaches nc inside.
    assert_ok(&d.docker(&["run", "-d", "--name", "udp", "-p", "127.0.0.1::5000/udp", // busybox has no UDP server: the host's python, bind-mounted read-only.
        "-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro",
        "busybox", "/usr/bin/python3", "-u", "-c",
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',5000))\nwhile True: print(s.recvfrom(100)[0].decode().strip())"]));
    let up = stdout(&d.docker(&["port", "udp", "5000/udp"]));
    let addr = up
        .lines()
        .next()
        .unwrap_or_else(|| panic!("{:?}", d.docker(&["inspect", "udp"])))
        .trim()
        .to_string();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    eventually("the datagram arrives", 10, || {
        sock.send_to(b"datagram-over-udp\n", &addr).unwrap();
        stdout(&d.docker(&["logs", "udp"])).contains("datagram-over-udp")
    });

    // A host port in use: a clear error, and the container is not left half-wired.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tp = taken.local_addr().unwrap().port().to_string();
    let before = ports_on(&d.bridge);
    let o = d.docker(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("{tp}:80"),
        "busybox",
        "sleep",
        "60",
    ]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("port is already allocated"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.State.Running}}", "clash"])).trim(),
        "false"
    );
    assert_eq!(
        ports_on(&d.bridge),
        before,
        "no veth left by the failed start"
    );

    // Stopping removes the rule and frees the port.
    assert_ok(&d.docker(&["stop", "-t", "1", "web"]));
    assert!(curl(&format!("http://127.0.0.1:{port}/")).is_none());
    std::net::TcpListener::bind(("0.0.0.0", port)).expect("the port is free again");
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip", &d.nft_table])
        .output()
        .unwrap();
    assert!(
        !stdout(&rules).contains(&format!(". {port} : ")),
        "{}",
        stdout(&rules)
    );
}

#[test]
fn user_networks_dns_isolation_connect_and_cleanup() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let (a, b) = (
        format!("10.{}.200.0/24", d.pool),
        format!("10.{}.201.0/24", d.pool),
    );
    assert_ok(&d.docker(&[
        "network", "create", "--subnet", &a, "--label", "t=1", "front",
    ]));
    assert_ok(&d.berth(&["network", "create", "--subnet", &b, "back"]));
    // Overlaps and duplicates are refused; predefined networks cannot go.
    let o = d.docker(&["network", "create", "--subnet", &a, "again"]);
    assert!(stderr(&o).contains("overlaps"), "{}", stderr(&o));
    assert!(stderr(&d.docker(&["network", "create", "front"])).contains("already exists"));
    assert!(stderr(&d.docker(&["network", "rm", "bridge"])).contains("pre-defined"));
    let ls = stdout(&d.docker(&[
        "network",
        "ls",
        "--filter",
        "label=t=1",
        "--format",
        "{{.Name}}",
    ]));
    assert_eq!(ls.trim(), "front");

    httpd(
        &d,
        &["--network", "front", "--network-alias", "www"],
        "web",
        "hello-by-name",
    );
    let ip = stdout(&d.docker(&[
        "inspect",
        "-f",
        "{{(index .NetworkSettings.Networks \"front\").IPAddress}}",
        "web",
    ]));
    assert!(
        ip.trim().starts_with(&format!("10.{}.200.", d.pool)),
        "{ip}"
    );
    // By name, alias and short id, through the embedded DNS at 127.0.0.11.
    for name in ["web", "www"] {
        let o = fetch_from_container(&d, &["--network", "front"], name, 80);
        assert!(
            stdout(&o).contains("hello-by-name"),
            "{name}: {}",
            stderr(&o)
        );
    }
    let o = d.docker(&[
        "run",
        "--rm",
        "--network",
        "front",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; nslookup web 127.0.0.11",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("nameserver 127.0.0.11") && out.contains(ip.trim()),
        "{out}{}",
        stderr(&o)
    );
    // Another network neither resolves nor reaches it.
    let o = fetch_from_container(&d, &["--network", "back"], "web", 80);
    assert!(!stdout(&o).contains("hello-by-name"));
    let o = fetch_from_container(&d, &["--network", "back"], ip.trim(), 80);
    assert!(
        !stdout(&o).contains("hello-by-name"),
        "isolated: {}",
        stdout(&o)
    );

    // connect / disconnect while running.
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "probe",
        "--network",
        "back",
        "busybox",
        "sleep",
        "300",
    ]));
    let reach = |host: &str| {
        stdout(&d.docker(&[
            "exec",
            "probe",
            "sh",
            "-c",
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} 80"),
        ]))
        .contains("hello-by-name")
    };
    assert!(!reach("web"));
    assert_ok(&d.berth(&["network", "connect", "--alias", "prober", "front", "probe"]));
    assert!(reach("web"), "after connect");
    let links = stdout(&d.docker(&["exec", "probe", "ip", "-o", "link"]));
    assert!(links.contains("eth1"), "{links}");
    let members = stdout(&d.docker(&["network", "inspect", "-f", "{{len .Containers}}", "front"]));
    assert_eq!(members.trim(), "2");
    assert!(stderr(&d.docker(&["network", "rm", "front"])).contains("active endpoints"));
    assert_ok(&d.docker(&["network", "disconnect", "front", "probe"]));
    assert!(!reach("web"), "after disconnect");

    // Many containers come and go; nothing stays on the bridges.
    for i in 0..50 {
        let net = if i % 2 == 0 { "front" } else { "bridge" };
        assert_ok(&d.docker(&[
            "create",
            "--name",
            &format!("many{i}"),
            "--network",
            net,
            "-p",
            "80",
            "busybox",
            "true",
        ]));
    }
    for i in 0..50 {
        assert_ok(&d.docker(&["start", &format!("many{i}")]));
    }
    for i in 0..50 {
        assert_ok(&d.docker(&["rm", "-f", &format!("many{i}")]));
    }
    assert_ok(&d.docker(&["rm", "-f", "web", "probe"]));
    // The bridge Berth made is br-<id>, which inspect does not show (dockerd's Options are the asked-for ones).
    let front_id = stdout(&d.docker(&["network", "inspect", "-f", "{{.Id}}", "front"]));
    assert_eq!(
        stdout(&d.docker(&["network", "inspect", "-f", "{{json .Options}}", "front"])).trim(),
        "{}"
    );
    let front_bridge = format!("br-{}", &front_id.trim()[..12]);
    eventually("no veth left", 10, || {
        ports_on(&d.bridge) == 0 && ports_on(&front_bridge) == 0
    });
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip", &d.nft_table])
        .output()
        .unwrap();
    assert!(
        !stdout(&rules).contains("elements"),
        "no published port is left: {}",
        stdout(&rules)
    );
    assert!(std::fs::read_dir(d.exec_root().join("netns"))
        .unwrap()
        .next()
        .is_none());
    assert_ok(&d.docker(&["network", "rm", "front", "back"]));
    let gone = std::process::Command::new("ip")
        .args(["link", "show", front_bridge.trim()])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the bridge went with the network");
}

/// Network names as dockerd takes them: a space or a dot is fine; only
/// the empty name (and a NUL byte) is refused.
#[test]
fn network_names_follow_dockerd() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let subnet = format!("10.{}.210.0/24", d.pool);
    assert_ok(&d.docker(&["network", "create", "--subnet", &subnet, "my net.v2"]));
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "my net.v2",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains(&format!("10.{}.210.", d.pool)),
        "{}",
        stdout(&out)
    );
    let names = stdout(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(names.lines().any(|l| l == "my net.v2"), "{names}");
    let (s, body) = raw_http(
        &d.socket,
        "POST",
        "/networks/create",
        "application/json",
        br#"{"Name":"a\u0000b"}"#,
    );
    assert_eq!(s, 400, "{body}");
    let (s, body) = raw_http(
        &d.socket,
        "POST",
        "/networks/create",
        "application/json",
        br#"{"Name":""}"#,
    );
    assert_eq!(s, 400, "{body}");
    assert_ok(&d.docker(&["network", "rm", "my net.v2"]));
}

#[test]
fn published_ports_survive_a_daemon_restart() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    httpd(&d, &["-p", "127.0.0.1::80"], "kept", "still-here");
    let addr = stdout(&d.docker(&["port", "kept", "80"]))
        .trim()
        .to_string();
    eventually("answers", 10, || {
        curl(&format!("http://{addr}/")).is_some_and(|b| b.contains("still-here"))
    });
    d.stop_daemon(libc::SIGKILL);
    assert!(
        curl(&format!("http://{addr}/")).is_some_and(|b| b.contains("still-here")),
        "works with berthd down"
    );
    d.spawn();
    assert!(curl(&format!("http://{addr}/")).is_some_and(|b| b.contains("still-here")));
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_err(),
        "the port is held again"
    );
    assert_ok(&d.docker(&["stop", "-t", "1", "kept"]));
    assert!(curl(&format!("http://{addr}/")).is_none());
}

/// The embedded DNS answers for running containers only, by name and
/// alias, following stops, starts, removals and a daemon restart.
#[test]
fn dns_follows_containers_lives() {
    let mut d = Daemon::start();
    d.import_busybox("busybox");
    let subnet = format!("10.{}.230.0/24", d.pool);
    assert_ok(&d.docker(&["network", "create", "--subnet", &subnet, "lives"]));
    for n in ["one", "two"] {
        assert_ok(&d.docker(&[
            "run",
            "-d",
            "--name",
            n,
            "--network",
            "lives",
            "--network-alias",
            "pool",
            "busybox",
            "sleep",
            "300",
        ]));
    }
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "asker",
        "--network",
        "lives",
        "busybox",
        "sleep",
        "300",
    ]));
    let ask = |d: &Daemon, name: &str| {
        let o = d.docker(&["exec", "asker", "nslookup", name, "127.0.0.11"]);
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("Address") && !l.contains("127.0.0.11"))
            .count()
    };
    assert_eq!(ask(&d, "one"), 1);
    assert_eq!(ask(&d, "one.lives"), 1);
    assert_eq!(ask(&d, "pool"), 2, "an alias answers with every container");
    assert_ok(&d.docker(&["stop", "-t", "0", "one"]));
    assert_eq!(ask(&d, "one"), 0, "a stopped container has no name");
    assert_eq!(ask(&d, "pool"), 1);
    assert_ok(&d.docker(&["start", "one"]));
    assert_eq!(ask(&d, "one"), 1);
    d.stop_daemon(libc::SIGTERM);
    d.spawn();
    eventually("the daemon back", 10, || code(&d.docker(&["version"])) == 0);
    assert_eq!(ask(&d, "pool"), 2, "restored with the daemon");
    assert_ok(&d.docker(&["rm", "-f", "two"]));
    assert_eq!(ask(&d, "two"), 0);
    assert_eq!(ask(&d, "pool"), 1);
    // A rename takes effect at once.
    assert_ok(&d.docker(&["rename", "one", "uno"]));
    assert_eq!(ask(&d, "uno"), 1);
    assert_eq!(ask(&d, "one"), 0);
}

/// Legacy links as dockerd has them: on the default bridge, the linked
/// container in /etc/hosts and the environment, a link to a stopped one
/// refused at start, `rm --link`; on a user network, a name only the linking
/// container resolves (`--link` at run or `network connect --link`).
#[test]
fn legacy_links() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "POSTGRES_DB=app",
        "--expose",
        "5432",
        "busybox",
        "sleep",
        "300",
    ]));
    let db_ip = stdout(&d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "db"]))
        .trim()
        .to_string();
    let out = d.docker(&[
        "run", "--name", "web", "--link", "db:store", "busybox", "sh", "-c",
        "env | grep ^STORE_ | sort; grep -w store /etc/hosts; ping -c 1 -W 2 store >/dev/null && echo reached",
    ]);
    let text = stdout(&out);
    for want in [
        "STORE_NAME=/web/store".to_string(),
        format!("STORE_PORT=tcp://{db_ip}:5432"),
        format!("STORE_PORT_5432_TCP_ADDR={db_ip}"),
        "STORE_PORT_5432_TCP_PROTO=tcp".to_string(),
        "STORE_ENV_POSTGRES_DB=app".to_string(),
        format!("{db_ip}\tstore "),
        "reached".to_string(),
    ] {
        assert!(text.contains(&want), "{want} in:\n{text}{}", stderr(&out));
    }
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{json .HostConfig.Links}}", "web"])).trim(),
        r#"["/db:/web/store"]"#
    );
    // The target restarts with another address: a running container that
    // links to it sees the new one in its /etc/hosts, as with dockerd.
    assert_ok(&d.docker(&[
        "run", "-d", "--name", "watcher", "--link", "db:store", "busybox", "sleep", "300",
    ]));
    assert_ok(&d.docker(&["stop", "-t", "0", "db"]));
    assert_ok(&d.docker(&["run", "-d", "--name", "filler", "busybox", "sleep", "300"]));
    assert_ok(&d.docker(&["start", "db"]));
    let new_ip = stdout(&d.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "db"]))
        .trim()
        .to_string();
    assert_ne!(new_ip, db_ip, "the filler took the old address");
    let hosts = stdout(&d.docker(&["exec", "watcher", "grep", "-w", "store", "/etc/hosts"]));
    assert!(hosts.starts_with(&format!("{new_ip}\tstore ")), "{hosts}");
    assert_ok(&d.docker(&["rm", "-f", "watcher", "filler"]));
    assert_ok(&d.docker(&["stop", "-t", "0", "db"]));
    assert_fails_with(
        &d.docker(&["start", "web"]),
        "Cannot link to a non running container: /db AS /web/store",
    );
    assert_ok(&d.docker(&["rm", "--link", "/web/store"]));
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{json .HostConfig.Links}}", "web"])).trim(),
        "[]"
    );
    assert_ok(&d.docker(&["start", "web"]));
    assert_fails_with(
        &d.docker(&["run", "--rm", "--link", "nosuch:x", "busybox", "true"]),
        "could not get container for nosuch",
    );

    // On a user network: a name for the linking container alone.
    let subnet = format!("10.{}.240.0/24", d.pool);
    assert_ok(&d.docker(&["network", "create", "--subnet", &subnet, "linked"]));
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "api",
        "--network",
        "linked",
        "busybox",
        "sleep",
        "300",
    ]));
    let resolves = |extra: &[&str], name: &str| {
        let o = d.docker(
            &[
                &["run", "--rm", "--network", "linked"][..],
                extra,
                &["busybox", "nslookup", name, "127.0.0.11"],
            ]
            .concat(),
        );
        code(&o) == 0 && stdout(&o).contains(&format!("10.{}.240.", d.pool))
    };
    assert!(resolves(&["--link", "api:backend"], "backend"));
    assert!(!resolves(&[], "backend"), "not for the others");
    assert_ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "other",
        "--network",
        "linked",
        "busybox",
        "sleep",
        "300",
    ]));
    assert_ok(&d.docker(&["network", "disconnect", "linked", "other"]));
    assert_ok(&d.docker(&["network", "connect", "--link", "api:svc", "linked", "other"]));
    let o = d.docker(&["exec", "other", "nslookup", "svc", "127.0.0.11"]);
    assert!(
        stdout(&o).contains(&format!("10.{}.240.", d.pool)),
        "{}",
        stdout(&o)
    );
}

/// IPv6 networks (defect 7): `--ipv6` with a subnet of its own or a unique
/// local one picked for it, addresses (and `--ip6`) in inspect, AAAA answers
/// from the embedded DNS, traffic between containers, a published port
/// reached at the bridge's IPv6 address, and the ip6 rules that come and go
/// with the network.
#[test]
fn ipv6_networks() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let prefix = format!("fd00:b0:{:x}:1", d.pool);
    let subnet = format!("{prefix}::/64");
    assert_ok(&d.docker(&["network", "create", "--ipv6", "--subnet", &subnet, "v6net"]));
    let cfg = pools(&d, "v6net");
    assert!(cfg.starts_with("true "), "{cfg}");
    assert!(cfg.contains(&format!("{subnet},{prefix}::1")), "{cfg}");
    assert!(
        cfg.contains(&format!("10.{}.", d.pool)),
        "an IPv4 subnet beside it: {cfg}"
    );
    httpd(
        &d,
        &["--network", "v6net", "-p", "80"],
        "web6",
        "hello-over-six",
    );
    let addr = |c: &str| {
        let f = "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}{{end}}";
        stdout(&d.docker(&["inspect", "-f", f, c]))
            .trim()
            .to_string()
    };
    assert_eq!(addr("web6"), format!("{prefix}::2/64 {prefix}::1"));
    // A static address, and the name's AAAA record from the embedded DNS.
    let o = d.docker(&[
        "run", "--rm", "--network", "v6net", "--ip6", &format!("{prefix}::99"), "busybox", "sh", "-c",
        &format!("ip addr show eth0 | grep -o '{prefix}::99/64'; nslookup -type=AAAA web6 127.0.0.11; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {prefix}::2 80"),
    ]);
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.starts_with(&format!("{prefix}::99/64\n")), "{out}");
    assert!(out.contains(&format!("Address: {prefix}::2")), "{out}");
    assert!(out.contains("hello-over-six"), "reached over IPv6: {out}");
    // The published port answers at the bridge's IPv6 address too.
    let body = over_ipv6_from_the_host(&d, "web6", &format!("{prefix}::1"));
    assert!(body.contains("hello-over-six"), "{body}");
    let rules = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &d.nft_table])
        .output()
        .unwrap();
    assert!(
        stdout(&rules).contains(&format!("ip6 saddr {prefix}::/64")),
        "{}",
        stdout(&rules)
    );
    // An address the network cannot have, and IPv6 asked of an IPv4 network.
    let bad = d.docker(&[
        "run",
        "--rm",
        "--network",
        "v6net",
        "--ip6",
        "fd99::5",
        "busybox",
        "true",
    ]);
    assert_fails_with(
        &bad,
        "invalid IPv6 address fd99::5: not a free host address",
    );
    assert_ok(&d.docker(&["network", "create", "v4only"]));
    let bad = d.docker(&[
        "run",
        "--rm",
        "--network",
        "v4only",
        "--ip6",
        &format!("{prefix}::7"),
        "busybox",
        "true",
    ]);
    assert_fails_with(&bad, "network v4only does not have IPv6 enabled");
    let bad = d.docker(&["network", "create", "--subnet", "fd00:b1::/64", "nov6"]);
    assert_fails_with(&bad, "an IPv6 subnet needs IPv6 enabled on the network");
    let bad = d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{prefix}:5::/80"),
        "overlap",
    ]);
    assert_fails_with(
        &bad,
        "Pool overlaps with other one on this address space (network v6net)",
    );
    // Without a subnet: a unique local /64 of its own.
    assert_ok(&d.docker(&["network", "create", "--ipv6", "auto6"]));
    let auto = stdout(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        "auto6",
    ]));
    assert!(
        auto.split_whitespace()
            .any(|s| s.starts_with("fd") && s.ends_with("::/64")),
        "{auto}"
    );
    assert_ok(&d.docker(&["rm", "-f", "web6"]));
    for n in ["v6net", "v4only", "auto6"] {
        assert_ok(&d.docker(&["network", "rm", n]));
    }
    let gone = std::process::Command::new("nft")
        .args(["list", "table", "ip6", &d.nft_table])
        .output()
        .unwrap();
    assert!(
        !gone.status.success(),
        "the ip6 table goes with the last IPv6 network"
    );
}

/// `"ipv6": true` puts the default bridge on IPv6 too: in `fixed-cidr-v6`,
/// or without it a unique local /64 of its own; its containers get an
/// address there, reach each other and publish ports on `[::]` over it.
/// Turned off again, the bridge starts over without IPv6.
#[test]
fn ipv6_on_the_default_bridge() {
    let prefix = format!("fd00:b2:{:x}:1", std::process::id() % 0xffff);
    let subnet = format!("{prefix}::/64");
    let mut d = Daemon::start_with(serde_json::json!({"ipv6": true, "fixed-cidr-v6": subnet}));
    d.import_busybox("busybox");
    let cfg = pools(&d, "bridge");
    assert!(cfg.starts_with("true "), "{cfg}");
    assert!(cfg.contains(&format!("{subnet},{prefix}::1")), "{cfg}");
    httpd(&d, &["-p", "80"], "web", "hello-default-six");
    let f = "{{.NetworkSettings.GlobalIPv6Address}}/{{.NetworkSettings.GlobalIPv6PrefixLen}}";
    let addr = stdout(&d.docker(&["inspect", "-f", f, "web"]));
    assert_eq!(addr.trim(), format!("{prefix}::2/64"));
    let o = d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {prefix}::2 80"),
    ]);
    assert_ok(&o);
    assert!(stdout(&o).contains("hello-default-six"), "{}", stdout(&o));
    let body = over_ipv6_from_the_host(&d, "web", &format!("{prefix}::1"));
    assert!(body.contains("hello-default-six"), "{body}");
    assert_ok(&d.docker(&["rm", "-f", "web"]));

    // fixed-cidr-v6 alone is refused; without ipv6 the bridge has no IPv6.
    d.stop_daemon(libc::SIGTERM);
    d.extra_config = serde_json::json!({"fixed-cidr-v6": subnet});
    let o = d.command().output().unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("fixed-cidr-v6 needs \"ipv6\": true"),
        "{}",
        stderr(&o)
    );
    d.extra_config = serde_json::json!({});
    d.spawn();
    let cfg = stdout(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}} {{len .IPAM.Config}}",
        "bridge",
    ]));
    assert_eq!(cfg.trim(), "false 1");
    let addrs = std::process::Command::new("ip")
        .args(["-6", "addr", "show", "dev", &d.bridge])
        .output()
        .unwrap();
    assert!(
        !stdout(&addrs).contains(&prefix),
        "the bridge keeps no address of the old subnet: {}",
        stdout(&addrs)
    );
}
