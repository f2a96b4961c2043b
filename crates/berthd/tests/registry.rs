//! Berth's registry server (`berth registry serve`) over loopback: the
//! distribution API by raw HTTP, bad input, an interrupted upload, and skopeo
//! (a client nobody here wrote) copying an image in and out.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use common::*;
use sha2::{Digest as _, Sha256};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 4 + n..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn error_code(r: &Reply) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// POST then PUT of `data` into `repo`.
fn push_blob(addr: &str, repo: &str, data: &[u8]) -> String {
    let r = http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let loc = r.header("location").unwrap().to_string();
    let d = digest(data);
    let r = http(
        addr,
        "PUT",
        &format!("{loc}?digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    d
}

fn manifest(config: &str, config_len: usize, layers: &[(&str, usize)]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_len},
        "layers": layers.iter().map(|(d, n)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

#[test]
fn distribution_api_uploads_manifests_and_listing() {
    let reg = Registry::start(&[]);
    let a = reg.addr.as_str();
    let r = http(a, "GET", "/v2/", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );

    // Monolithic upload with a wrong digest: DIGEST_INVALID, nothing stored.
    let r = http(a, "POST", "/v2/lib/app/blobs/uploads/", &[], b"");
    let loc = r.header("location").unwrap().to_string();
    let wrong = digest(b"something else");
    let r = http(
        a,
        "PUT",
        &format!("{loc}?digest={wrong}"),
        &[],
        b"layer-one",
    );
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "DIGEST_INVALID".to_string()),
        "{}",
        r.text()
    );
    assert_eq!(
        http(a, "HEAD", &format!("/v2/lib/app/blobs/{wrong}"), &[], b"").status,
        404
    );
    assert_eq!(
        http(
            a,
            "HEAD",
            &format!("/v2/lib/app/blobs/{}", digest(b"layer-one")),
            &[],
            b""
        )
        .status,
        404
    );
    let layer1 = push_blob(a, "lib/app", b"layer-one");

    // Chunked: in order, out of order (416), status, resume, close.
    let data = b"0123456789abcdef";
    let r = http(a, "POST", "/v2/lib/app/blobs/uploads/", &[], b"");
    let loc = r.header("location").unwrap().to_string();
    let r = http(a, "PATCH", &loc, &[("Content-Range", "0-7")], &data[..8]);
    assert_eq!((r.status, r.header("range")), (202, Some("0-7")));
    let r = http(a, "PATCH", &loc, &[("Content-Range", "10-15")], &data[10..]);
    assert_eq!(r.status, 416, "{}", r.text());
    let r = http(a, "GET", &loc, &[], b"");
    assert_eq!((r.status, r.header("range")), (204, Some("0-7")));
    let d = digest(data);
    let r = http(
        a,
        "PUT",
        &format!("{loc}?digest={d}"),
        &[("Content-Range", "8-15")],
        &data[8..],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("docker-content-digest"), Some(d.as_str()));
    let r = http(
        a,
        "GET",
        &format!("/v2/lib/app/blobs/{d}"),
        &[("Range", "bytes=4-9")],
        b"",
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &data[4..10]));
    assert_eq!(r.header("content-range"), Some("bytes 4-9/16"));
    assert_eq!(
        http(
            a,
            "GET",
            &format!("/v2/lib/app/blobs/{d}"),
            &[("Range", "bytes=10-99")],
            b""
        )
        .status,
        416
    );
    let r = http(a, "HEAD", &format!("/v2/lib/app/blobs/{d}"), &[], b"");
    assert_eq!((r.status, r.header("content-length")), (200, Some("16")));

    // Single POST, and a cross-repository mount (201) or a fresh session when it cannot (202).
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = digest(config);
    let r = http(
        a,
        "POST",
        &format!("/v2/lib/app/blobs/uploads/?digest={cd}"),
        &[],
        config,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = http(
        a,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={layer1}&from=lib/app"),
        &[],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        http(a, "HEAD", &format!("/v2/other/blobs/{layer1}"), &[], b"").status,
        200
    );
    let r = http(
        a,
        "POST",
        &format!(
            "/v2/other/blobs/uploads/?mount={}&from=lib/app",
            digest(b"none")
        ),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);

    // Manifests: every blob must be there first; by tag and by digest; tags and catalog.
    let missing = digest(b"missing layer");
    let bad = manifest(&cd, config.len(), &[(&layer1, 9), (&missing, 13)]);
    let r = http(
        a,
        "PUT",
        "/v2/lib/app/manifests/v1",
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &bad,
    );
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "MANIFEST_BLOB_UNKNOWN".to_string())
    );
    let m = manifest(&cd, config.len(), &[(&layer1, 9), (&d, 16)]);
    let md = digest(&m);
    for tag in ["v1", "v2", "latest"] {
        let r = http(
            a,
            "PUT",
            &format!("/v2/lib/app/manifests/{tag}"),
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            &m,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.header("docker-content-digest"), Some(md.as_str()));
    }
    let r = http(
        a,
        "PUT",
        &format!("/v2/lib/app/manifests/{}", digest(b"x")),
        &[],
        &m,
    );
    assert_eq!(error_code(&r), "DIGEST_INVALID");
    let r = http(
        a,
        "GET",
        "/v2/lib/app/manifests/v1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    );
    assert_eq!((r.status, r.body.clone()), (200, m.clone()));
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
    assert_eq!(
        http(a, "HEAD", &format!("/v2/lib/app/manifests/{md}"), &[], b"").status,
        200
    );
    let r = http(a, "GET", "/v2/lib/app/manifests/nope", &[], b"");
    assert_eq!(
        (r.status, error_code(&r)),
        (404, "MANIFEST_UNKNOWN".to_string())
    );
    let r = http(a, "GET", "/v2/lib/app/tags/list", &[], b"");
    assert_eq!(
        r.text(),
        r#"{"name":"lib/app","tags":["latest","v1","v2"]}"#
    );
    let r = http(a, "GET", "/v2/lib/app/tags/list?n=1&last=latest", &[], b"");
    assert_eq!(r.text(), r#"{"name":"lib/app","tags":["v1"]}"#);
    assert_eq!(
        r.header("link"),
        Some("</v2/lib/app/tags/list?n=1&last=v1>; rel=\"next\"")
    );
    let r = http(a, "GET", "/v2/_catalog?n=10", &[], b"");
    assert_eq!(r.text(), r#"{"repositories":["lib/app","other"]}"#);
    assert_eq!(
        error_code(&http(a, "GET", "/v2/nothere/tags/list", &[], b"")),
        "NAME_UNKNOWN"
    );

    // An index of manifests, and a referrer through the subject field.
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len(),
                       "platform": {"os": "linux", "architecture": "amd64"}}],
    }))
    .unwrap();
    let r = http(
        a,
        "PUT",
        "/v2/lib/app/manifests/multi",
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let mut sbom: serde_json::Value =
        serde_json::from_slice(&manifest(&cd, config.len(), &[])).unwrap();
    sbom["artifactType"] = "application/vnd.example.sbom".into();
    sbom["subject"] = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.len()});
    let sbom = serde_json::to_vec(&sbom).unwrap();
    let r = http(
        a,
        "PUT",
        &format!("/v2/lib/app/manifests/{}", digest(&sbom)),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &sbom,
    );
    assert_eq!(
        (r.status, r.header("oci-subject")),
        (201, Some(md.as_str()))
    );
    let r = http(
        a,
        "GET",
        &format!("/v2/lib/app/referrers/{md}?artifactType=application/vnd.example.sbom"),
        &[],
        b"",
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["manifests"][0]["digest"], digest(&sbom));
    assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));

    // Deleting by digest takes its tags along.
    assert_eq!(
        http(
            a,
            "DELETE",
            &format!("/v2/lib/app/manifests/{md}"),
            &[],
            b""
        )
        .status,
        202
    );
    assert_eq!(
        http(a, "GET", "/v2/lib/app/manifests/v1", &[], b"").status,
        404
    );

    // Hostile and malformed names and digests.
    for (path, want) in [
        ("/v2/Upper/blobs/uploads/", "NAME_INVALID"),
        ("/v2/a/../b/blobs/uploads/", "NAME_INVALID"),
        ("/v2/a..b/tags/list", "NAME_INVALID"),
        ("/v2/lib/app/blobs/sha256:zz", "DIGEST_INVALID"),
        ("/v2/lib/app/blobs/md5:00", "DIGEST_INVALID"),
    ] {
        let method = if path.ends_with("uploads/") {
            "POST"
        } else {
            "GET"
        };
        let r = http(a, method, path, &[], b"");
        assert_eq!(error_code(&r), want, "{path}: {}", r.text());
    }
    let r = http(
        a,
        "PUT",
        "/v2/lib/app/manifests/v9",
        &[],
        b"{\"schemaVersion\": 2",
    );
    assert_eq!(error_code(&r), "MANIFEST_INVALID");
    let r = http(a, "PATCH", "/v2/lib/app/blobs/uploads/0000", &[], b"x");
    assert_eq!(error_code(&r), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn an_interrupted_upload_keeps_what_arrived_and_can_resume() {
    let reg = Registry::start(&[]);
    let a = reg.addr.as_str();
    let r = http(a, "POST", "/v2/app/blobs/uploads/", &[], b"");
    let loc = r.header("location").unwrap().to_string();
    http(a, "PATCH", &loc, &[("Content-Range", "0-3")], b"abcd");
    // A chunk that announces 100 bytes, sends 10 and hangs up.
    let mut s = TcpStream::connect(a).unwrap();
    write!(s, "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Range: 4-103\r\nContent-Length: 100\r\n\r\n0123456789").unwrap();
    drop(s);
    eventually("the cut chunk is dropped", 5, || {
        http(a, "GET", &loc, &[], b"").header("range") == Some("0-3")
    });
    let r = http(
        a,
        "PUT",
        &format!("{loc}?digest={}", digest(b"abcdefgh")),
        &[("Content-Range", "4-7")],
        b"efgh",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        http(
            a,
            "GET",
            &format!("/v2/app/blobs/{}", digest(b"abcdefgh")),
            &[],
            b""
        )
        .body,
        b"abcdefgh"
    );

    // Read-only: writes are refused, reads work.
    drop(reg);
    let ro = Registry::start(&["--read-only"]);
    let r = http(&ro.addr, "POST", "/v2/app/blobs/uploads/", &[], b"");
    assert_eq!((r.status, error_code(&r)), (405, "UNSUPPORTED".to_string()));
    assert_eq!(http(&ro.addr, "GET", "/v2/", &[], b"").status, 200);
}

#[test]
fn skopeo_copies_images_in_and_out() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let archive = d.dir.path().join("busybox.tar");
    assert_ok(&d.docker(&["save", "-o", archive.to_str().unwrap(), "busybox"]));
    let reg = Registry::start(&[]);
    let skopeo = |args: &[&str]| {
        let o = Command::new("skopeo").args(args).output().unwrap();
        assert_ok(&o);
        stdout(&o)
    };
    let dest = format!("docker://{}/library/busybox:1", reg.addr);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-compress",
        &format!("docker-archive:{}", archive.display()),
        &dest,
    ]);
    // Again: every blob is there already.
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", archive.display()),
        &dest,
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &dest])).unwrap();
    assert_eq!(inspect["Os"], "linux");
    let out = d.dir.path().join("out");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:busybox", out.display()),
    ]);
    // What came back has the same layer digests as what went in.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    let mdig = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .replace("sha256:", "");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("blobs/sha256").join(mdig)).unwrap())
            .unwrap();
    let layers: Vec<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(serde_json::json!(layers), inspect["Layers"]);
    let tags = http(&reg.addr, "GET", "/v2/library/busybox/tags/list", &[], b"");
    assert_eq!(tags.text(), r#"{"name":"library/busybox","tags":["1"]}"#);

    // berthd pulls it (gzip layers), and a push to another repository mounts
    // those same blobs instead of sending the layer again uncompressed.
    let pulled = format!("{}/library/busybox:1", reg.addr);
    assert_ok(&d.docker(&["pull", &pulled]));
    let again = format!("{}/library/again:1", reg.addr);
    assert_ok(&d.docker(&["tag", &pulled, &again]));
    let o = d.docker(&["push", &again]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("Mounted from library/busybox"),
        "{}",
        stdout(&o)
    );
    let copied: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{again}"),
    ]))
    .unwrap();
    assert_eq!(copied["Layers"], inspect["Layers"]);
    let m = http(
        &reg.addr,
        "GET",
        "/v2/library/again/manifests/1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    );
    let m: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
    assert!(
        m["layers"][0]["mediaType"]
            .as_str()
            .is_some_and(|t| t.ends_with("gzip")),
        "{m}"
    );
    // And it runs, pulled back from there.
    assert_ok(&d.docker(&["rmi", &again, &pulled]));
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", &again, "echo", "mounted"])),
        "mounted\n"
    );
}

#[test]
fn docker_cli_pushes_and_pulls_through_berthd() {
    let d = Daemon::start();
    d.import_busybox("busybox");
    let reg = Registry::start(&[]);
    let image = format!("{}/team/bb:1", reg.addr);
    assert_ok(&d.docker(&["tag", "busybox", &image]));
    let o = d.docker(&["push", &image]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("Pushed") && stdout(&o).contains("1: digest: sha256:"),
        "{}",
        stdout(&o)
    );
    // Again: the registry has every blob.
    let o = d.docker(&["push", &image]);
    assert!(
        stdout(&o).contains("Layer already exists"),
        "{}",
        stdout(&o)
    );
    let id = stdout(&d.docker(&["inspect", "-f", "{{.Id}}", "busybox"]))
        .trim()
        .to_string();

    assert_ok(&d.docker(&["rmi", &image, "busybox"]));
    let o = d.docker(&["pull", &image]);
    assert_ok(&o);
    assert!(stdout(&o).contains("Pull complete"), "{}", stdout(&o));
    // The same image came back: the same config, so the same ID.
    assert_eq!(
        stdout(&d.docker(&["inspect", "-f", "{{.Id}}", &image])).trim(),
        id
    );
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", &image, "echo", "pulled"])),
        "pulled\n"
    );
    // `run` pulls what is missing; layers the store has are not fetched again.
    let other = format!("{}/team/bb:other", reg.addr);
    assert_ok(&d.docker(&["tag", &image, &other]));
    assert_ok(&d.docker(&["push", &other]));
    assert_ok(&d.docker(&["rmi", &other]));
    let o = d.docker(&["pull", &other]);
    assert!(stdout(&o).contains("Already exists"), "{}", stdout(&o));
    assert_ok(&d.docker(&["rmi", &other, &image]));
    let o = d.docker(&["run", "--rm", &image, "echo", "auto-pulled"]);
    assert_eq!(stdout(&o), "auto-pulled\n", "{}", stderr(&o));
    let o = d.docker(&["pull", &format!("{}/team/bb:missing", reg.addr)]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));

    // A multi-platform index: this host's entry is picked.
    let m = http(
        &reg.addr,
        "GET",
        "/v2/team/bb/manifests/1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    );
    let md = digest(&m.body);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": m.body.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }))
    .unwrap();
    let r = http(
        &reg.addr,
        "PUT",
        "/v2/team/bb/manifests/multi",
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // What the registry has, through berthd: GET /distribution/{name}/json.
    let socket = d.host().trim_start_matches("unix://").to_string();
    let ask = |name: &str| {
        let (status, body) = raw_http(
            Path::new(&socket),
            "GET",
            &format!("/v1.47/distribution/{}/{name}/json", reg.addr),
            "",
            b"",
        );
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default(),
        )
    };
    let (status, v) = ask("team/bb:multi");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Descriptor"]["digest"], digest(&index));
    assert_eq!(
        v["Descriptor"]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        v["Platforms"],
        serde_json::json!([{"os": "linux", "architecture": "amd64"}])
    );
    let (status, v) = ask("team/bb:1");
    assert_eq!(
        (status, v["Descriptor"]["digest"].as_str()),
        (200, Some(md.as_str()))
    );
    assert_eq!(v["Platforms"][0]["os"], "linux");
    assert_eq!(ask("team/bb:absent").0, 404);
    let o = d.docker(&["pull", &format!("{}/team/bb:multi", reg.addr)]);
    assert_ok(&o);
    // RepoDigests: the digest it has in the registry.
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{json .RepoDigests}}",
        &format!("{}/team/bb:multi", reg.addr),
    ]);
    assert!(
        stdout(&o).contains(&format!("{}/team/bb@{}", reg.addr, digest(&index))),
        "{}",
        stdout(&o)
    );
    // Pulled by digest alone, the image is found by that same reference.
    let by_digest = format!("{}/team/bb@{}", reg.addr, digest(&index));
    assert_ok(&d.docker(&["rmi", &format!("{}/team/bb:multi", reg.addr)]));
    assert_ok(&d.docker(&["pull", &by_digest]));
    let o = d.docker(&[
        "inspect",
        "-f",
        "{{json .RepoDigests}} {{json .RepoTags}}",
        &by_digest,
    ]);
    assert_ok(&o);
    assert!(stdout(&o).contains(&by_digest), "{}", stdout(&o));
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", &by_digest, "echo", "by digest"])),
        "by digest\n"
    );
    // docker-py sends the digest as the tag and inspects by `repo@digest`.
    assert_ok(&d.docker(&["rmi", &by_digest]));
    let py = d.docker_py(&format!("print(c.images.pull('{by_digest}').id)"));
    assert!(
        py.status.success() && stdout(&py).starts_with("sha256:"),
        "{}{}",
        stdout(&py),
        stderr(&py)
    );
    // By the digest of the platform's own manifest, too.
    let by_manifest = format!("{}/team/bb@{md}", reg.addr);
    assert_ok(&d.docker(&["pull", &by_manifest]));
    let o = d.docker(&["inspect", "-f", "{{json .RepoDigests}}", &by_manifest]);
    assert_ok(&o);
    assert!(stdout(&o).contains(&by_manifest), "{}", stdout(&o));
    // What the rest of the test pushes again (the removals above took its tag).
    assert_ok(&d.docker(&["pull", &image]));
    let o = d.docker(&[
        "pull",
        "--platform",
        "linux/s390x",
        &format!("{}/team/bb:multi", reg.addr),
    ]);
    assert!(
        stderr(&o).contains("no matching manifest"),
        "{}",
        stderr(&o)
    );

    // The berth CLI: push, pull, and run's --pull (progress on stderr, stdout kept for output).
    let mine = format!("{}/team/mine:1", reg.addr);
    assert_ok(&d.berth(&["tag", &image, &mine]));
    let o = d.berth(&["push", &mine]);
    assert_ok(&o);
    assert!(stdout(&o).contains("1: digest: sha256:"), "{}", stdout(&o));
    assert_ok(&d.berth(&["rmi", &mine]));
    let o = d.berth(&["pull", &mine]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("Status: Downloaded newer image"),
        "{}",
        stdout(&o)
    );
    assert_ok(&d.berth(&["rmi", &mine]));
    let o = d.berth(&["run", "--rm", "--pull", "never", &mine, "true"]);
    assert!(stderr(&o).contains("No such image"), "{}", stderr(&o));
    let o = d.berth(&["run", "--rm", &mine, "echo", "ran"]);
    assert_eq!(stdout(&o), "ran\n", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Unable to find image"),
        "{}",
        stderr(&o)
    );
    let o = d.berth(&["run", "--rm", "--pull", "always", &mine, "echo", "again"]);
    assert_eq!(stdout(&o), "again\n", "{}", stderr(&o));

    // A build pulls its missing FROM image.
    let ctx = d.dir.path().join("fromreg");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {mine}\nRUN echo built > /b\n"),
    )
    .unwrap();
    assert_ok(&d.docker(&["rmi", &mine]));
    let o = d.docker(&["build", "-t", "fromreg", ctx.to_str().unwrap()]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("Pulling from team/mine"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        stdout(&d.docker(&["run", "--rm", "fromreg", "cat", "/b"])),
        "built\n"
    );
    // Test daemons reach no registry off this host: refused before any lookup.
    let o = d.docker(&["pull", "example.com/x:1"]);
    assert!(
        stderr(&o).contains("registry-loopback-only"),
        "{}",
        stderr(&o)
    );
}

/// A registry that lies: the manifest names a layer by one digest and the blob it sends is other bytes.
#[test]
fn a_layer_that_does_not_match_its_digest_is_refused() {
    let d = Daemon::start();
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let real = b"the layer the manifest promises";
    let layer_digest = digest(real);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }))
    .unwrap();
    let cd = digest(&config);
    let m = manifest(&cd, config.len(), &[(&layer_digest, real.len())]);
    std::thread::spawn(move || {
        for conn in server.incoming() {
            let Ok(mut c) = conn else { return };
            let mut buf = [0u8; 4096];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
            let (ctype, body): (&str, Vec<u8>) = if path.contains("/manifests/") {
                ("application/vnd.oci.image.manifest.v1+json", m.clone())
            } else if path.ends_with(&cd) {
                ("application/octet-stream", config.clone())
            } else if path.contains("/blobs/") {
                (
                    "application/octet-stream",
                    b"not the promised bytes at all!!".to_vec(),
                )
            } else {
                ("application/json", b"{}".to_vec())
            };
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        }
    });
    let before = stdout(&d.docker(&["images", "-aq"]));
    let o = d.docker(&["pull", &format!("{addr}/liar:1")]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("verification failed"), "{}", stderr(&o));
    assert_eq!(stdout(&d.docker(&["images", "-aq"])), before);
    let tmp = d.data_root().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|r| r.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "partial downloads left: {left:?}");
}

#[test]
fn htpasswd_auth_and_docker_login() {
    use base64::Engine as _;
    let d = Daemon::start();
    d.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    let users = htpasswd(dir.path());
    let reg = Registry::start(&["--htpasswd", users.to_str().unwrap()]);
    let a = reg.addr.as_str();
    let basic = |user: &str, pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    };
    let r = http(a, "GET", "/v2/", &[], b"");
    assert_eq!(
        (r.status, error_code(&r)),
        (401, "UNAUTHORIZED".to_string())
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"berth-registry\"")
    );
    for (user, pass, status) in [
        ("alice", "wrong", 401),
        ("bob", "s3cret", 401),
        ("alice", "s3cret", 200),
    ] {
        let r = http(
            a,
            "GET",
            "/v2/",
            &[("Authorization", &basic(user, pass))],
            b"",
        );
        assert_eq!(r.status, status, "{user}:{pass}");
    }

    let image = format!("{a}/private/bb:1");
    assert_ok(&d.docker(&["tag", "busybox", &image]));
    // No credentials: refused, and nothing lands in the registry.
    let o = d.docker(&["push", &image]);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stderr(&o).contains("authentication required"),
        "{}",
        stderr(&o)
    );
    let catalog = http(
        a,
        "GET",
        "/v2/_catalog",
        &[("Authorization", &basic("alice", "s3cret"))],
        b"",
    );
    assert_eq!(catalog.text(), r#"{"repositories":[]}"#);
    // docker login goes through berthd's POST /auth.
    let o = d.docker_stdin(&["login", "-u", "alice", "--password-stdin", a], b"wrong\n");
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));
    let o = d.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", a],
        b"s3cret\n",
    );
    assert_ok(&o);
    assert!(stdout(&o).contains("Login Succeeded"), "{}", stdout(&o));
    // The CLI now sends X-Registry-Auth: push and pull work.
    assert_ok(&d.docker(&["push", &image]));
    assert_ok(&d.docker(&["rmi", &image]));
    assert_ok(&d.docker(&["pull", &image]));
}
