//! berthd's router driven in process (`tower::ServiceExt::oneshot`) on an
//! engine opened on a temporary data root: what the handlers and the engine
//! answer where no container runs — validation, names, filters, inspect,
//! volumes, and the state of a created container. The engine's default
//! bridge and nftables table are this test's own and are removed after it.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use berth_engine::{Engine, EngineConfig};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// An engine of its own, removed with everything it made on the host.
struct Opened {
    engine: Arc<Engine>,
    bridge: String,
    table: String,
    _dir: tempfile::TempDir,
}

impl Drop for Opened {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        let _ = berth_network::nft::delete_table(&self.table);
    }
}

/// A 10.N.0.0/16 no host route uses (the integration tests pick theirs the same way).
fn free_pool() -> ipnet::Ipv4Net {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let n = (0..150u32)
        .map(|k| 100 + ((std::process::id() * 13 + k * 7) % 150) as u8)
        .find(|n| !routes.contains(&format!("{n:02X}0A\t")))
        .expect("a free 10.N.0.0/16");
    format!("10.{n}.0.0/16").parse().unwrap()
}

async fn open() -> Opened {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let tag = format!("{:08x}", rand::random::<u32>());
    let mut cfg = EngineConfig::new(dir.path().join("data"), dir.path().join("exec"));
    cfg.network.bridge = format!("btp{tag}");
    cfg.network.nft_table = format!("berth_tp_{tag}");
    cfg.network.pools = vec![(free_pool(), 24)];
    cfg.cgroup_parent = format!("berth-tp-{tag}");
    let (bridge, table) = (cfg.network.bridge.clone(), cfg.network.nft_table.clone());
    let engine = Engine::open(cfg).await.expect("open the engine");
    Opened {
        engine,
        bridge,
        table,
        _dir: dir,
    }
}

/// One request through the router: the status and the body as JSON (or a string).
async fn call(e: &Opened, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = crate::server::router(e.engine.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

/// The message of an error answer, with its status checked.
async fn refused(e: &Opened, method: Method, path: &str, body: &str, status: StatusCode) -> String {
    let (s, v) = call(e, method, path, body).await;
    assert_eq!(s, status, "{path} {body}: {v}");
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn handlers_and_engine_in_process() {
    let e = open().await;
    let (s, v) = call(&e, Method::GET, "/_ping", "").await;
    assert_eq!((s, v), (StatusCode::OK, json!("OK")));

    // Create: what is refused, and why, before anything is made.
    for (body, why) in [
        ("{", "invalid JSON body"),
        (
            r#"{"Image":"busybox","Env":["=x"]}"#,
            "invalid environment variable: =x",
        ),
        (
            r#"{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":5}}"#,
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"ExtraHosts":["nocolon"]}}"#,
            "bad format for add-host: \"nocolon\"",
        ),
        (
            r#"{"Image":"busybox","HostConfig":{"ShmSize":-1}}"#,
            "SHM size can not be less than 0",
        ),
    ] {
        let m = refused(
            &e,
            Method::POST,
            "/containers/create",
            body,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(m.contains(why), "{body}: {m}");
    }
    let m = refused(
        &e,
        Method::POST,
        "/containers/create",
        r#"{"Image":"nosuch"}"#,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(m.contains("No such image: nosuch"), "{m}");
    let (s, v) = call(&e, Method::GET, "/containers/json?all=1", "").await;
    assert_eq!((s, v), (StatusCode::OK, json!([])), "nothing was made");

    // An image of one empty layer, and a container of it (created, never started).
    let tar = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "etc/", std::io::empty()).unwrap();
        b.into_inner().unwrap()
    };
    let req = Request::builder()
        .method(Method::POST)
        .uri("/images/create?fromSrc=-&repo=tiny&tag=1")
        .body(Body::from(tar))
        .unwrap();
    let resp = crate::server::router(e.engine.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = resp.into_body().collect().await.unwrap();
    let (s, v) = call(
        &e,
        Method::POST,
        "/containers/create?name=first",
        r#"{"Image":"tiny:1","Cmd":["/nothing"],"Labels":{"k":"v"},"HostConfig":{"NetworkMode":"none"}}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["Id"].as_str().unwrap().to_string();
    let (s, v) = call(&e, Method::GET, "/containers/first/json", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["Id"], json!(id));
    assert_eq!(v["State"]["Status"], json!("created"));
    assert_eq!(v["State"]["Running"], json!(false));
    assert_eq!(v["HostConfig"]["Runtime"], json!("runc"));
    assert_eq!(v["Config"]["Labels"], json!({"k": "v"}));
    let m = refused(
        &e,
        Method::POST,
        "/containers/create?name=first",
        r#"{"Image":"tiny:1","Cmd":["x"]}"#,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(m.contains("is already in use by container"), "{m}");

    // Filters: the ones that match, the ones that do not, the ones that are wrong.
    let list = |f: &str| format!("/containers/json?all=1&filters={}", urlencode(f));
    let (_, v) = call(
        &e,
        Method::GET,
        &list(r#"{"label":["k=v"],"status":["created"]}"#),
        "",
    )
    .await;
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    let (_, v) = call(&e, Method::GET, &list(r#"{"status":["running"]}"#), "").await;
    assert_eq!(v, json!([]));
    let m = refused(
        &e,
        Method::GET,
        &list(r#"{"bogus":["x"]}"#),
        "",
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(m, "invalid filter 'bogus'");
    let m = refused(
        &e,
        Method::GET,
        &list(r#"{"health":["sick"]}"#),
        "",
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(m, "Unrecognised filter value for health: sick");

    // A created container's operations: what its state allows.
    let m = refused(
        &e,
        Method::POST,
        "/containers/first/pause",
        "",
        StatusCode::CONFLICT,
    )
    .await;
    assert!(m.contains("is not running"), "{m}");
    let (s, _) = call(&e, Method::POST, "/containers/first/rename?name=second", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&e, Method::GET, "/containers/second/json", "").await;
    assert_eq!((s, v["Name"].clone()), (StatusCode::OK, json!("/second")));
    let m = refused(
        &e,
        Method::GET,
        "/containers/first/json",
        "",
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(m, "No such container: first");
    // Two containers renamed to one name at once: one gets it, the other a 409.
    let (s, _) = call(
        &e,
        Method::POST,
        "/containers/create?name=third",
        r#"{"Image":"tiny:1","Cmd":["/nothing"],"HostConfig":{"NetworkMode":"none"}}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    for round in 0..20 {
        let target = format!("taken{round}");
        let renames: Vec<_> = ["second", "third"]
            .into_iter()
            .map(|from| {
                let (engine, target) = (e.engine.clone(), target.clone());
                tokio::task::spawn_blocking(move || engine.rename_container(from, &target))
            })
            .collect();
        let mut results = Vec::new();
        for r in renames {
            results.push(r.await.unwrap());
        }
        let won = results
            .iter()
            .position(|r| r.is_ok())
            .expect("one rename wins");
        let lost = results[1 - won].as_ref().unwrap_err();
        assert!(
            matches!(lost, berth_engine::Error::Conflict(m) if m.contains(&format!("\"/{target}\" is already in use"))),
            "{lost}"
        );
        let winner = ["second", "third"][won];
        e.engine.rename_container(&target, winner).unwrap();
    }
    let (s, _) = call(&e, Method::DELETE, "/containers/third", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(&e, Method::DELETE, "/containers/second", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = call(&e, Method::GET, "/containers/json?all=1", "").await;
    assert_eq!(v, json!([]));

    // Volumes: made, listed by label, refused when the name is not one.
    let (s, v) = call(
        &e,
        Method::POST,
        "/volumes/create",
        r#"{"Name":"data","Labels":{"a":"b"}}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = call(
        &e,
        Method::GET,
        &format!("/volumes?filters={}", urlencode(r#"{"label":["a=b"]}"#)),
        "",
    )
    .await;
    assert_eq!(v["Volumes"][0]["Name"], json!("data"));
    let m = refused(
        &e,
        Method::POST,
        "/volumes/create",
        r#"{"Name":"a b"}"#,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(m.contains("includes invalid characters"), "{m}");
    let (s, _) = call(&e, Method::DELETE, "/volumes/data", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // A build whose cache sources are not a JSON list of names: refused before any context is read.
    for bad in ["%7Bbad", "%5B1%5D", "%22one%22"] {
        let m = refused(
            &e,
            Method::POST,
            &format!("/build?cachefrom={bad}"),
            "",
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            m.starts_with("invalid cachefrom (a JSON array of strings is needed)"),
            "{bad}: {m}"
        );
    }

    // Networks: the predefined three; a type filter that is not one.
    let (_, v) = call(&e, Method::GET, "/networks", "").await;
    let mut names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["Name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["bridge", "host", "none"]);
    let m = refused(
        &e,
        Method::GET,
        &format!("/networks?filters={}", urlencode(r#"{"type":["weird"]}"#)),
        "",
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(m, "invalid filter: 'type'='weird'");
    let (_, v) = call(&e, Method::GET, "/networks/bridge", "").await;
    assert_eq!(v["ConfigFrom"], json!({"Network": ""}));
    for body in [
        r#"{"Name":"cfgonly","ConfigOnly":true}"#,
        r#"{"Name":"cfgfrom","ConfigFrom":{"Network":"cfgonly"}}"#,
    ] {
        let m = refused(
            &e,
            Method::POST,
            "/networks/create",
            body,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(m.starts_with("config-only networks"), "{body}: {m}");
    }
    let (_, v) = call(&e, Method::GET, "/networks", "").await;
    assert_eq!(v.as_array().unwrap().len(), 3, "nothing was made: {v}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
