//! The registry with TLS and the Docker token flow, driven by clients no one
//! here wrote (curl, skopeo, the docker CLI through berthd); Docker Hub
//! mirrors; the config file; and `berth registry gc`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A CA and a certificate for 127.0.0.1 it signed: (ca.crt, server.cert, server.key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    certificates_for(dir, "127.0.0.1")
}

/// Runs openssl in `dir`, which must work.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert_ok(&o);
}

/// A new P-256 key, unencrypted.
const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A key and a certificate for `subject`, with the extensions `ext`, signed by
/// the CA in `dir` (ca.crt, ca.key): (`name`.cert, `name`.key).
fn signed(dir: &Path, name: &str, subject: &str, ext: &str) -> (PathBuf, PathBuf) {
    let (key, csr, cert, extfile) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.cert"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &EC_KEY,
            &["-keyout", &key, "-out", &csr, "-subj", subject],
        ]
        .concat(),
    );
    std::fs::write(dir.join(&extfile), format!("{ext}\n")).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ],
    );
    (dir.join(cert), dir.join(key))
}

/// A CA and a certificate for `ip` it signed: (ca.crt, server.cert, server.key).
fn certificates_for(dir: &Path, ip: &str) -> (PathBuf, PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &EC_KEY,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=berth test CA",
            ],
        ]
        .concat(),
    );
    let (cert, key) = signed(
        dir,
        "server",
        &format!("/CN={ip}"),
        &format!("subjectAltName=IP:{ip}"),
    );
    (dir.join("ca.crt"), cert, key)
}

/// curl's output (headers included) and exit code.
fn curl(args: &[&str]) -> (String, i32) {
    let o = Command::new("curl")
        .args(["-s", "-i"])
        .args(args)
        .output()
        .unwrap();
    (stdout(&o), code(&o))
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo").args(args).output().unwrap()
}

#[test]
fn tls_and_tokens_with_curl_skopeo_and_docker() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let users = htpasswd(dir.path());
    let reg = Registry::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--htpasswd",
        users.to_str().unwrap(),
        "--token",
    ]);
    let a = reg.addr.as_str();
    let ca_arg = ca.to_str().unwrap();

    // TLS is real: without the CA the certificate is refused (curl exit 60).
    assert_eq!(curl(&[&format!("https://{a}/v2/")]).1, 60);
    // The challenge sends clients to the token endpoint, with the scope needed.
    let (out, _) = curl(&[
        "--cacert",
        ca_arg,
        &format!("https://{a}/v2/lib/bb/tags/list"),
    ]);
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
    assert!(
        out.contains(&format!("www-authenticate: Bearer realm=\"https://{a}/token\",service=\"berth-registry\",scope=\"repository:lib/bb:pull\"")),
        "{out}"
    );
    // Wrong password: no token.
    let token_url =
        format!("https://{a}/token?service=berth-registry&scope=repository:lib/bb:pull,push");
    let (out, _) = curl(&["--cacert", ca_arg, "-u", "alice:wrong", &token_url]);
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
    let (out, _) = curl(&["--cacert", ca_arg, "-u", "alice:s3cret", &token_url]);
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    let token = serde_json::from_str::<serde_json::Value>(body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = format!("Authorization: Bearer {token}");
    // The OAuth2 form (POST), as containerd and BuildKit ask first.
    let post = |form: &str| {
        curl(&[
            "--cacert",
            ca_arg,
            "-X",
            "POST",
            "--data",
            form,
            &format!("https://{a}/token"),
        ])
        .0
    };
    let out = post("grant_type=password&username=alice&password=wrong&service=berth-registry&scope=repository:lib/bb:pull");
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
    let out = post("grant_type=refresh_token&refresh_token=x&service=berth-registry");
    assert!(
        out.starts_with("HTTP/1.1 405") && out.contains("UNSUPPORTED"),
        "{out}"
    );
    let out = post("grant_type=password&username=alice&password=s3cret&service=berth-registry&scope=repository:lib/bb:pull&client_id=test");
    let form_answer: serde_json::Value =
        serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(form_answer["scope"], "repository:lib/bb:pull");
    let (out, _) = curl(&[
        "--cacert",
        ca_arg,
        "-H",
        &format!(
            "Authorization: Bearer {}",
            form_answer["access_token"].as_str().unwrap()
        ),
        &format!("https://{a}/v2/lib/bb/tags/list"),
    ]);
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    // The token opens what it names, not the catalog, and not a changed token.
    let (out, _) = curl(&[
        "--cacert",
        ca_arg,
        "-H",
        &bearer,
        &format!("https://{a}/v2/lib/bb/tags/list"),
    ]);
    assert!(
        out.starts_with("HTTP/1.1 404") && out.contains("NAME_UNKNOWN"),
        "{out}"
    );
    let (out, _) = curl(&[
        "--cacert",
        ca_arg,
        "-H",
        &bearer,
        &format!("https://{a}/v2/_catalog"),
    ]);
    assert!(
        out.starts_with("HTTP/1.1 401") && out.contains("insufficient_scope"),
        "{out}"
    );
    let forged = format!("Authorization: Bearer {token}x");
    let (out, _) = curl(&[
        "--cacert",
        ca_arg,
        "-H",
        &forged,
        &format!("https://{a}/v2/lib/bb/tags/list"),
    ]);
    assert!(
        out.starts_with("HTTP/1.1 401") && out.contains("invalid_token"),
        "{out}"
    );

    // skopeo, verifying TLS against the CA, through the token flow.
    let d = Daemon::start();
    d.import_busybox("busybox");
    let archive = dir.path().join("busybox.tar");
    assert_ok(&d.docker(&["save", "-o", archive.to_str().unwrap(), "busybox"]));
    let certdir = dir.path().join("skopeo-certs");
    std::fs::create_dir(&certdir).unwrap();
    std::fs::copy(&ca, certdir.join("ca.crt")).unwrap();
    let src = format!("docker-archive:{}", archive.display());
    let dest = format!("docker://{a}/lib/bb:1");
    let o = skopeo(&["copy", "--dest-creds", "alice:s3cret", &src, &dest]);
    assert_ne!(
        code(&o),
        0,
        "without the CA skopeo must refuse the certificate"
    );
    let o = skopeo(&[
        "copy",
        "--dest-cert-dir",
        certdir.to_str().unwrap(),
        "--dest-creds",
        "alice:wrong",
        &src,
        &dest,
    ]);
    assert_fails_with(&o, "invalid username/password: unauthorized");
    assert_ok(&skopeo(&[
        "copy",
        "--dest-cert-dir",
        certdir.to_str().unwrap(),
        "--dest-creds",
        "alice:s3cret",
        &src,
        &dest,
    ]));
    let o = skopeo(&[
        "inspect",
        "--cert-dir",
        certdir.to_str().unwrap(),
        "--creds",
        "alice:s3cret",
        &dest,
    ]);
    assert_ok(&o);
    let layers = serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap()["Layers"].clone();

    // The docker CLI through berthd: login (the token flow), pull, run, push.
    std::fs::create_dir_all(d.certs_dir().join(a)).unwrap();
    std::fs::copy(&ca, d.certs_dir().join(a).join("ca.crt")).unwrap();
    let image = format!("{a}/lib/bb:1");
    let o = d.docker(&["pull", &image]);
    assert_fails_with(&o, "pull access denied: authentication required");
    let o = d.docker_stdin(&["login", "-u", "alice", "--password-stdin", a], b"wrong\n");
    assert_fails_with(&o, "failed with status: 401 Unauthorized");
    let o = d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", a],
        b"s3cret\n",
    );
    assert_ok(&o);
    assert_ok(&d.docker(&["pull", &image]));
    let o = d.docker(&["run", "--rm", &image, "echo", "over tls"]);
    assert_ok(&o);
    assert_eq!(stdout(&o), "over tls\n");
    let mine = format!("{a}/lib/mine:2");
    assert_ok(&d.docker(&["tag", "busybox", &mine]));
    assert_ok(&d.docker(&["push", &mine]));
    // Another repository: the layer is mounted from lib/bb or lib/mine, not sent again
    // (the token must name both repositories; berthd asks for one that does).
    let copy = format!("{a}/lib/copy:1");
    assert_ok(&d.docker(&["tag", "busybox", &copy]));
    let o = d.docker(&["push", &copy]);
    assert_ok(&o);
    assert!(stdout(&o).contains("Mounted from lib/"), "{}", stdout(&o));
    let o = skopeo(&[
        "inspect",
        "--cert-dir",
        certdir.to_str().unwrap(),
        "--creds",
        "alice:s3cret",
        &format!("docker://{mine}"),
    ]);
    assert_ok(&o);
    let pushed = serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap();
    assert_eq!(
        pushed["Layers"].as_array().unwrap().len(),
        layers.as_array().unwrap().len()
    );
}

#[test]
fn docker_hub_pulls_go_to_the_mirror_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let mirror = Registry::start(&[]);
    {
        let d = Daemon::start();
        d.import_busybox("busybox");
        let archive = dir.path().join("busybox.tar");
        assert_ok(&d.docker(&["save", "-o", archive.to_str().unwrap(), "busybox"]));
        assert_ok(&skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("docker-archive:{}", archive.display()),
            &format!("docker://{}/library/mirrored:1", mirror.addr),
        ]));
    }
    let d = Daemon::start_with(
        serde_json::json!({"registry-mirrors": [format!("http://{}", mirror.addr)]}),
    );
    let o = d.docker(&["pull", "mirrored:1"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("docker.io/library/mirrored:1"),
        "{}",
        stdout(&o)
    );
    let o = d.docker(&["run", "--rm", "mirrored:1", "echo", "from the mirror"]);
    assert_eq!(stdout(&o), "from the mirror\n");
    // Every tag, listed on the mirror too.
    let o = d.berth(&["pull", "-a", "mirrored"]);
    assert_ok(&o);
    // Not on the mirror: Docker Hub is next, which this test daemon refuses
    // to reach (registry-loopback-only) before any lookup.
    let o = d.docker(&["pull", "absent:1"]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("registry-loopback-only"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn config_file_and_garbage_collection() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");

    // A config file in Distribution's shape: htpasswd from it, storage from the flag.
    let users = htpasswd(dir.path());
    let yml = dir.path().join("config.yml");
    std::fs::write(
        &yml,
        format!(
            "version: 0.1\nlog:\n  level: warn\n  fields:\n    service: registry\nstorage:\n  filesystem:\n    rootdirectory: /nonexistent/overridden\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:1\n  headers:\n    X-Content-Type-Options: [nosniff]\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
            users.display()
        ),
    )
    .unwrap();
    {
        let reg = Registry::serve(&storage, &["--config", yml.to_str().unwrap()]);
        let (out, _) = curl(&[&format!("http://{}/v2/", reg.addr)]);
        assert!(out.starts_with("HTTP/1.1 401"), "{out}");
        let (out, _) = curl(&["-u", "alice:s3cret", &format!("http://{}/v2/", reg.addr)]);
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }
    let bad = dir.path().join("bad.toml");
    for (text, says) in [
        ("[http\naddr = 1", "config file"),
        (
            "[auth.htpasswd]\npath = \"/nonexistent/htpasswd\"\n",
            "htpasswd file /nonexistent/htpasswd",
        ),
        (
            "[http.tls]\ncertificate = \"/nonexistent/c\"\nkey = \"/nonexistent/k\"\n",
            "certificate /nonexistent/c",
        ),
        ("[auth.token]\nservice = \"x\"\n", "token auth needs"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let e = Registry::try_serve(&storage, &["--config", bad.to_str().unwrap()])
            .err()
            .unwrap();
        assert!(e.contains(says), "{text}: {e}");
    }

    // Two images; one is deleted; gc removes what only it used.
    let d = Daemon::start();
    d.import_busybox("busybox");
    let reg = Registry::serve(&storage, &[]);
    let a = reg.addr.clone();
    assert_ok(&d.docker(&[
        "run",
        "--name",
        "cb",
        "busybox",
        "sh",
        "-c",
        "echo only in b > /b",
    ]));
    assert_ok(&d.docker(&["commit", "cb", &format!("{a}/lib/b:1")]));
    assert_ok(&d.docker(&["rm", "cb"]));
    assert_ok(&d.docker(&["tag", "busybox", &format!("{a}/lib/a:1")]));
    assert_ok(&d.docker(&["push", &format!("{a}/lib/a:1")]));
    assert_ok(&d.docker(&["push", &format!("{a}/lib/b:1")]));
    let inspect = |name: &str| -> serde_json::Value {
        let o = skopeo(&[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{a}/{name}"),
        ]);
        assert_ok(&o);
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    let b = inspect("lib/b:1");
    let b_only = b["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let (out, _) = curl(&[
        "-X",
        "DELETE",
        &format!(
            "http://{a}/v2/lib/b/manifests/{}",
            b["Digest"].as_str().unwrap()
        ),
    ]);
    assert!(out.starts_with("HTTP/1.1 202"), "{out}");

    let gc = |args: &[&str]| {
        Command::new(bin("berth"))
            .args(["registry", "gc", "--storage"])
            .arg(&storage)
            .args(args)
            .output()
            .unwrap()
    };
    let o = gc(&[]);
    assert_ne!(code(&o), 0, "gc while a registry writes is refused");
    assert!(stderr(&o).contains("in use"), "{}", stderr(&o));
    drop(reg);
    let o = gc(&["--dry-run"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains(&format!("would remove blob {b_only}")),
        "{}",
        stdout(&o)
    );
    let o = gc(&[]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains(&format!("removed blob {b_only}")),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("removed manifest"), "{}", stdout(&o));

    // What is left works; what went is gone.
    let reg = Registry::serve(&storage, &[]);
    let a = reg.addr.clone();
    let (out, _) = curl(&["-I", &format!("http://{a}/v2/lib/b/blobs/{b_only}")]);
    assert!(out.starts_with("HTTP/1.1 404"), "{out}");
    // (A new port: the image is new to berthd, so this is a real pull.)
    let o = d.docker(&["pull", &format!("{a}/lib/a:1")]);
    assert_ok(&o);
    let o = d.docker(&[
        "run",
        "--rm",
        &format!("{a}/lib/a:1"),
        "echo",
        "still whole",
    ]);
    assert_eq!(stdout(&o), "still whole\n");
}

/// A client certificate the test CA in `dir` signs: (client.cert, client.key).
fn client_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    signed(
        dir,
        "client",
        "/CN=berth test client",
        "extendedKeyUsage=clientAuth",
    )
}

#[test]
fn mutual_tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let (client_cert, client_key) = client_certificate(dir.path());
    let reg = Registry::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--tls-client-ca",
        ca.to_str().unwrap(),
    ]);
    let a = reg.addr.as_str();
    let url = format!("https://{a}/v2/");
    let (_, code_without) = curl(&["--cacert", ca.to_str().unwrap(), &url]);
    assert_ne!(
        code_without, 0,
        "no client certificate: the handshake fails"
    );
    let (out, _) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        client_cert.to_str().unwrap(),
        "--key",
        client_key.to_str().unwrap(),
        &url,
    ]);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");

    // berthd: refused until certs.d/<host:port>/ holds the client pair.
    let d = Daemon::start();
    d.import_busybox("busybox");
    let image = format!("{a}/lib/mtls:1");
    assert_ok(&d.docker(&["tag", "busybox", &image]));
    let o = d.docker(&["push", &image]);
    assert_fails_with(&o, "client error");
    let certs = d.certs_dir().join(a);
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&ca, certs.join("ca.crt")).unwrap();
    std::fs::copy(&client_cert, certs.join("client.cert")).unwrap();
    std::fs::copy(&client_key, certs.join("client.key")).unwrap();
    assert_ok(&d.docker(&["push", &image]));
    assert_ok(&d.docker(&["rmi", &image]));
    assert_ok(&d.docker(&["pull", &image]));
    // skopeo with the same directory.
    let o = skopeo(&[
        "inspect",
        "--cert-dir",
        certs.to_str().unwrap(),
        &format!("docker://{image}"),
    ]);
    assert_ok(&o);
}

/// Registries that are not on loopback are HTTPS with checked certificates,
/// unless named in `insecure-registries`. They listen on this test's own
/// bridge address (on this host, but not loopback), so no traffic leaves.
#[test]
fn registries_off_loopback_need_trusted_tls_unless_insecure() {
    let d = Daemon::start_with(serde_json::json!({"registry-loopback-only": false}));
    d.import_busybox("busybox");
    let gateway = format!("10.{}.0.1", d.pool);
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates_for(dir.path(), &gateway);
    let tls = Registry::start_on(
        &format!("{gateway}:0"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let plain = Registry::start_on(&format!("{gateway}:0"), &[]);
    for r in [&tls, &plain] {
        assert_ok(&d.docker(&["tag", "busybox", &format!("{}/lib/bb:1", r.addr)]));
    }

    // TLS whose CA berthd does not know: refused.
    let o = d.docker(&["push", &format!("{}/lib/bb:1", tls.addr)]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("UnknownIssuer"), "{}", stderr(&o));
    // Plain HTTP: refused, HTTPS is required.
    let o = d.docker(&["push", &format!("{}/lib/bb:1", plain.addr)]);
    assert_fails_with(&o, "received corrupt message of type InvalidContentType");
    // With the CA in certs.d/<host:port>/: trusted.
    std::fs::create_dir_all(d.certs_dir().join(&tls.addr)).unwrap();
    std::fs::copy(&ca, d.certs_dir().join(&tls.addr).join("ca.crt")).unwrap();
    assert_ok(&d.docker(&["push", &format!("{}/lib/bb:1", tls.addr)]));

    // insecure-registries: the plain one over HTTP, and TLS without its CA.
    let d2 = Daemon::start_with(serde_json::json!({
        "registry-loopback-only": false,
        "insecure-registries": [plain.addr, format!("{gateway}/32")],
    }));
    d2.import_busybox("busybox");
    assert_ok(&d2.docker(&["tag", "busybox", &format!("{}/lib/bb:1", plain.addr)]));
    assert_ok(&d2.docker(&["push", &format!("{}/lib/bb:1", plain.addr)]));
    assert_ok(&d2.docker(&["pull", &format!("{}/lib/bb:1", tls.addr)]));
}

/// `openssl s_server -WWW` serving `dir` over HTTPS on loopback, killed on drop.
struct HttpsFiles {
    child: std::process::Child,
    port: u16,
}

impl HttpsFiles {
    fn serve(dir: &Path, cert: &Path, key: &Path) -> HttpsFiles {
        // A port that was free a moment ago; s_server takes it or fails, and
        // the loop below says which.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("openssl")
            .current_dir(dir)
            .args([
                "s_server",
                "-quiet",
                "-WWW",
                "-http_server_binmode",
                "-accept",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut s = HttpsFiles { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(s.child.try_wait().unwrap().is_none(), "s_server ended");
            assert!(
                std::time::Instant::now() < deadline,
                "s_server did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        s
    }
}

impl Drop for HttpsFiles {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ADD https://…` and an https:// remote context go through the registry
/// client's TLS: the certificate is checked on loopback too (the insecure
/// rules are a registry's), trusted once its CA is in certs.d/<host:port>/.
#[test]
fn add_and_remote_contexts_over_https_are_verified() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("file.txt"), "over tls\n").unwrap();
    let mut ctx = tar::Builder::new(Vec::new());
    let df = b"FROM busybox\nCOPY hello /hello\n";
    for (name, body) in [
        ("Dockerfile", &df[..]),
        ("hello", &b"remote over tls\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        ctx.append_data(&mut h, name, body).unwrap();
    }
    std::fs::write(www.join("ctx.tar"), ctx.into_inner().unwrap()).unwrap();
    let server = HttpsFiles::serve(&www, &cert, &key);
    let addr = format!("127.0.0.1:{}", server.port);
    let dockerfile = format!("FROM busybox\nADD https://{addr}/file.txt /dl/\n");

    let o = d.docker_stdin(&["build", "-t", "tls-add", "-"], dockerfile.as_bytes());
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("ADD failed: GET https://{addr}/file.txt"))
            && stderr(&o).contains("UnknownIssuer"),
        "{}",
        stderr(&o)
    );
    // The docker CLI fetches a remote context itself; berth's sends `remote=`.
    let o = d.berth(&["build", &format!("https://{addr}/ctx.tar")]);
    assert!(
        stderr(&o).contains("remote build context") && stderr(&o).contains("UnknownIssuer"),
        "{}",
        stderr(&o)
    );

    std::fs::create_dir_all(d.certs_dir().join(&addr)).unwrap();
    std::fs::copy(&ca, d.certs_dir().join(&addr).join("ca.crt")).unwrap();
    let o = d.docker_stdin(&["build", "-t", "tls-add", "-"], dockerfile.as_bytes());
    assert_ok(&o);
    let o = d.docker(&["run", "--rm", "tls-add", "cat", "/dl/file.txt"]);
    assert_ok(&o);
    assert_eq!(stdout(&o), "over tls\n");
    let o = d.berth(&[
        "build",
        "-t",
        "tls-remote",
        &format!("https://{addr}/ctx.tar"),
    ]);
    assert_ok(&o);
    let o = d.docker(&["run", "--rm", "tls-remote", "cat", "/hello"]);
    assert_eq!(stdout(&o), "remote over tls\n");
}
