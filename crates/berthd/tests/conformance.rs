//! The differential conformance suite: scenarios of Engine API calls
//! (`conformance/scenarios/*.json`), recorded from a private Docker 20.10
//! (`scripts/conformance-record.sh`, answers in `conformance/fixtures/`) and
//! replayed here against berthd. Compared: status codes, error messages,
//! the values a step names, the shape of every JSON answer (each key
//! dockerd sends must be there, with the same type; keys of newer API
//! versions are allowed), and for streams (`"stream": true`: attach, exec
//! start, logs) their framing and what each of stdout and stderr carried. IDs and times are never compared. Divergences
//! kept on purpose are listed in `conformance/divergences.json` with their
//! reason, and in docs/conformance.md.
//!
//! Recording: `BERTH_CONFORMANCE_RECORD=/path/to/docker.sock` makes this
//! test talk to that dockerd and rewrite the fixtures instead.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Map, Value};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// `a.b.0.c` in a JSON value.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .filter(|p| !p.is_empty())
        .fold(v, |v, k| match k.parse::<usize>() {
            Ok(i) if v.is_array() => &v[i],
            _ => &v[k],
        })
}

/// The type skeleton of a JSON answer: what is compared of values that are
/// IDs, times, sizes or addresses.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(a) => json!([a.first().map(shape).unwrap_or(json!("empty"))]),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
    }
}

/// Where berthd's shape lacks what dockerd's has; "" when it does not.
fn shape_gaps(docker: &Value, berth: &Value, path: &str, out: &mut Vec<String>) {
    match (docker, berth) {
        // null in dockerd's answer stands for "nothing", whatever berthd says.
        (Value::String(t), _) if t == "null" || t == "empty" => {}
        (Value::Array(d), Value::Array(b)) => {
            if let (Some(d), Some(b)) = (d.first(), b.first()) {
                if b != "empty" {
                    shape_gaps(d, b, &format!("{path}[]"), out);
                }
            }
        }
        (Value::Object(d), Value::Object(b)) => {
            for (k, dv) in d {
                match b.get(k) {
                    Some(bv) => shape_gaps(dv, bv, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k} missing")),
                }
            }
        }
        (d, b) if d == b => {}
        // A number dockerd sends may be absent as null in berthd and vice versa only when allowed.
        (d, b) => out.push(format!("{path}: dockerd {d}, berthd {b}")),
    }
}

struct Endpoint {
    socket: PathBuf,
}

impl Endpoint {
    fn call(&self, method: &str, path: &str, body: &[u8], ctype: &str) -> (u16, String) {
        raw_http(&self.socket, method, path, ctype, body)
    }

    /// A call whose answer is a stream (attach, exec start, logs): its
    /// status and body bytes, read until the daemon closes it.
    fn stream(&self, method: &str, path: &str, body: &[u8], ctype: &str) -> (u16, Vec<u8>) {
        raw_http_bytes(&self.socket, method, path, ctype, body)
    }
}

/// How a stream's body is framed, and what each stream carried: Docker's
/// multiplexed frames (`[type, 0, 0, 0, len32]` + payload) when the whole
/// body parses as them, else one raw stream.
fn framing(body: &[u8]) -> Value {
    let mut streams = [Vec::new(), Vec::new()];
    let mut rest = body;
    while rest.len() >= 8 && rest[0] <= 2 && rest[1..4] == [0, 0, 0] {
        let n = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        if rest.len() < 8 + n {
            break;
        }
        streams[usize::from(rest[0] == 2)].extend_from_slice(&rest[8..8 + n]);
        rest = &rest[8 + n..];
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if body.is_empty() {
        json!({"framing": "empty"})
    } else if rest.is_empty() {
        json!({"framing": "multiplexed", "stdout": text(&streams[0]), "stderr": text(&streams[1])})
    } else {
        json!({"framing": "raw", "stdout": text(body)})
    }
}

/// A message without what differs between engines: the IDs it names
/// (those a scenario saved by name, any other as `<id>`).
fn anonymous(m: &str, vars: &BTreeMap<String, String>) -> String {
    let mut m = m.to_string();
    for (k, v) in vars {
        if v.len() >= 12 && k != "n" {
            m = m.replace(v.as_str(), &format!("{{{k}}}"));
        }
    }
    let mut out = String::new();
    let mut run = String::new();
    for c in m.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        if run.len() == 64 || run.len() == 12 {
            out.push_str("<id>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// A step's `tar` body: each file (a name ending in `/` is a directory)
/// with its text, the same bytes for both daemons.
fn tar_of(files: &Map<String, Value>, fill: impl Fn(&str) -> String) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, std::io::empty()).unwrap();
            continue;
        }
        let data = fill(text.as_str().unwrap_or_default()).into_bytes();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// Runs one scenario's steps; what each answered, as recorded.
fn run(ep: &Endpoint, scenario: &Value, unique: &str) -> Vec<Value> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("n".into(), unique.into());
    let fill = |s: &str, vars: &BTreeMap<String, String>| {
        vars.iter()
            .fold(s.to_string(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
    };
    let mut out = Vec::new();
    for step in scenario["steps"].as_array().into_iter().flatten() {
        if let Some(ms) = step["wait_ms"].as_u64() {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let method = step["method"].as_str().unwrap_or("GET");
        let path = fill(step["path"].as_str().unwrap_or("/"), &vars);
        let (body, ctype) = match (&step["body"], &step["raw"], &step["tar"]) {
            (_, _, Value::Object(files)) => {
                (tar_of(files, |t| fill(t, &vars)), "application/x-tar")
            }
            (Value::Null, Value::String(raw), _) => {
                (fill(raw, &vars).into_bytes(), "application/json")
            }
            (Value::Null, _, _) => (Vec::new(), "application/json"),
            (b, _, _) => (fill(&b.to_string(), &vars).into_bytes(), "application/json"),
        };
        if step["stream"] == true {
            let (status, bytes) = ep.stream(method, &path, &body, ctype);
            let mut rec = Map::new();
            rec.insert("status".into(), json!(status));
            if status < 400 {
                rec.insert("values".into(), framing(&bytes));
            } else if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                let message = v["message"].as_str().map(|m| anonymous(m, &vars));
                rec.insert("message".into(), json!(message));
            }
            out.push(Value::Object(rec));
            continue;
        }
        let (status, text) = ep.call(method, &path, &body, ctype);
        let parsed: Option<Value> = serde_json::from_str(text.trim()).ok();
        let mut rec = Map::new();
        rec.insert("status".into(), json!(status));
        if let Some(v) = &parsed {
            if status >= 400 {
                let message = v["message"].as_str().map(|m| anonymous(m, &vars));
                rec.insert("message".into(), json!(message));
            } else {
                rec.insert("shape".into(), shape(v));
            }
            for (var, p) in step["save"].as_object().into_iter().flatten() {
                if let Some(s) = at(v, p.as_str().unwrap_or_default()).as_str() {
                    vars.insert(var.clone(), s.to_string());
                }
            }
            let mut values = Map::new();
            for p in step["check"].as_array().into_iter().flatten() {
                let p = p.as_str().unwrap_or_default();
                values.insert(p.to_string(), at(v, p).clone());
            }
            if !values.is_empty() {
                rec.insert("values".into(), Value::Object(values));
            }
        }
        out.push(Value::Object(rec));
    }
    out
}

fn scenarios() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let area = f.file_stem().unwrap().to_string_lossy().into_owned();
        let list: Vec<Value> = serde_json::from_slice(&std::fs::read(&f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for s in list {
            out.push((format!("{area}/{}", s["name"].as_str().unwrap()), s));
        }
    }
    out
}

/// Each step's answers are compared with dockerd's.
fn compare(name: &str, docker: &[Value], berth: &[Value], allowed: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, (d, b)) in docker.iter().zip(berth).enumerate() {
        // An allowed divergence names what differs; a scenario and a step
        // narrow it, a path (a shape's key) widens it to every answer.
        let allows = |what: &str, path: Option<&str>| {
            allowed.iter().any(|a| {
                a["what"] == what
                    && a["scenario"].as_str().is_none_or(|s| s == name)
                    && a["step"].as_u64().is_none_or(|s| s == i as u64)
                    && match (a["path"].as_str(), path) {
                        (Some(p), Some(gap)) => gap == p || gap.starts_with(&format!("{p}.")),
                        (Some(_), None) => false,
                        (None, _) => a["scenario"].is_string(),
                    }
            })
        };
        let skip = |what: &str| allows(what, None);
        // Rules for every scenario: a status dockerd 20.10 gave that Berth
        // gives otherwise, and messages whose wording comes from each
        // engine's JSON decoder.
        let status_rule = allowed.iter().any(|a| {
            a["what"] == "status"
                && a["scenario"].is_null()
                && a["dockerd"] == d["status"]
                && a["berthd"] == b["status"]
        });
        let message_rule = || {
            let (dm, bm) = (d["message"].as_str(), b["message"].as_str());
            allowed.iter().any(|a| {
                a["what"] == "message"
                    && a["dockerd_prefix"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .any(|p| dm.is_some_and(|m| m.starts_with(p)))
                    && a["berthd_prefix"]
                        .as_str()
                        .is_some_and(|p| bm.is_some_and(|m| m.starts_with(p)))
            })
        };
        if d["status"] != b["status"] {
            // A different answer on purpose: nothing more of it to compare.
            if !skip("status") && !status_rule {
                problems.push(format!(
                    "{name} step {i}: status dockerd {} berthd {}",
                    d["status"], b["status"]
                ));
            }
            continue;
        }
        if d["message"] != b["message"] && !skip("message") && !message_rule() {
            problems.push(format!(
                "{name} step {i}: message dockerd {} berthd {}",
                d["message"], b["message"]
            ));
        }
        if d["values"] != b["values"] && !skip("values") {
            problems.push(format!(
                "{name} step {i}: values dockerd {} berthd {}",
                d["values"], b["values"]
            ));
        }
        let mut gaps = Vec::new();
        shape_gaps(&d["shape"], &b["shape"], "", &mut gaps);
        for g in gaps {
            let path = g
                .split([' ', ':'])
                .next()
                .unwrap_or_default()
                .replace("[]", "");
            let path = path.as_str();
            if !allows("shape", Some(path)) && !skip("shape") {
                problems.push(format!("{name} step {i}: shape {g}"));
            }
        }
    }
    problems
}

#[test]
fn berthd_answers_as_dockerd_does() {
    let fixtures_path = dir().join("fixtures.json");
    if let Ok(sock) = std::env::var("BERTH_CONFORMANCE_RECORD") {
        let ep = Endpoint {
            socket: sock.into(),
        };
        let mut fixtures = Map::new();
        for (i, (name, s)) in scenarios().iter().enumerate() {
            fixtures.insert(name.clone(), Value::Array(run(&ep, s, &format!("cf{i}x"))));
        }
        std::fs::write(
            &fixtures_path,
            serde_json::to_string_pretty(&fixtures).unwrap() + "\n",
        )
        .unwrap();
        return;
    }
    let fixtures: Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&fixtures_path).expect("recorded fixtures")).unwrap();
    let allowed: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir().join("divergences.json")).unwrap()).unwrap();
    let d = Daemon::start();
    d.import_busybox("busybox");
    let ep = Endpoint {
        socket: d.socket.clone(),
    };
    let mut problems = Vec::new();
    let all = scenarios();
    for (i, (name, s)) in all.iter().enumerate() {
        let Some(docker) = fixtures.get(name).and_then(Value::as_array) else {
            problems.push(format!(
                "{name}: not recorded (run scripts/conformance-record.sh)"
            ));
            continue;
        };
        let berth = run(&ep, s, &format!("cf{i}x"));
        problems.extend(compare(name, docker, &berth, &allowed));
    }
    assert!(
        problems.is_empty(),
        "{} differences from dockerd in {} scenarios (not in divergences.json):\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );
}
