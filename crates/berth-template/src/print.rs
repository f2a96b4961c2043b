//! How Go prints the values a template yields (`fmt.Print` of what
//! `encoding/json` or the docker CLI's structs hold), and the docker CLI's
//! `json` function.

use serde_json::Value;

/// Fields of docker's inspect types that are Go maps (or slices of them),
/// where the JSON alone cannot tell a map from a struct.
pub const MAP_FIELDS: &[&str] = &[
    "Labels",
    "Volumes",
    "ExposedPorts",
    "PortBindings",
    "Ports",
    "Networks",
    "Options",
    "Data",
    "DriverOpts",
    "Containers",
    "Sysctls",
    "StorageOpt",
    "Annotations",
    "Tmpfs",
    "Status",
    "Details",
];

/// Sorts the keys of every object docker holds as a Go map (Go marshals and
/// ranges over maps in key order; structs keep their fields' order).
pub fn sort_maps(v: &mut Value, is_map: bool) {
    match v {
        Value::Object(m) => {
            if is_map || !looks_like_struct(m) {
                m.sort_keys();
            }
            for (k, x) in m.iter_mut() {
                sort_maps(x, MAP_FIELDS.contains(&k.as_str()));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| sort_maps(x, false)),
        _ => {}
    }
}

/// Pointer fields of docker's inspect types that the JSON leaves out when
/// nil: read at the end of a chain, docker's typed struct yields nil.
pub const NIL_POINTERS: &[&str] = &[
    "Health",
    "Healthcheck",
    "Node",
    "ImageManifestDescriptor",
    "Init",
    "StopTimeout",
    "OomKillDisable",
    "PidsLimit",
];

/// How docker prints a field whose JSON is `null` (or a nil pointer left
/// out): a nil slice `[]`, a nil map `map[]`, a nil pointer `<nil>`.
pub fn nil_of(field: &str) -> &'static str {
    if NIL_POINTERS.contains(&field) {
        "<nil>"
    } else if MAP_FIELDS.contains(&field) {
        "map[]"
    } else {
        "[]"
    }
}

fn looks_like_struct(m: &serde_json::Map<String, Value>) -> bool {
    m.keys().all(|k| {
        let mut c = k.chars();
        c.next().is_some_and(|f| f.is_ascii_uppercase())
            && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    })
}

/// An object whose keys all read like Go field names stands for a struct
/// (`{v1 v2}`), any other for a map (`map[k:v]`, sorted keys): docker
/// formats its typed values, whose maps are keyed by labels, ports, names.
fn is_struct(m: &serde_json::Map<String, Value>) -> bool {
    !m.is_empty() && looks_like_struct(m)
}

/// `fmt.Sprint` of a value.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::Array(a) => format!("[{}]", a.iter().map(nested).collect::<Vec<_>>().join(" ")),
        Value::Object(m) if is_struct(m) => {
            format!(
                "{{{}}}",
                m.values().map(nested).collect::<Vec<_>>().join(" ")
            )
        }
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", nested(&m[*k])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

/// A value inside a list, map or struct: nil prints as `<nil>` there.
fn nested(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        o => go_print(o),
    }
}

/// Integers as integers (docker's structs hold them as ints), others as Go's `%v` of a float64.
pub fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i64)
    } else if f.abs() >= 1e21 || (f != 0.0 && f.abs() < 1e-4) {
        // Go's %v switches to an exponent with at least two digits.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        f.to_string()
    }
}

/// The docker CLI's `json`: compact, `<>&` kept (`SetEscapeHTML(false)`),
/// unless `row`: a list's row marshals itself with `json.Marshal`, which
/// escapes them, its fields sorted.
pub fn json(v: &Value, row: bool) -> String {
    if row {
        if let Value::Object(m) = v {
            let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
            return escape_html(&serde_json::to_string(&sorted).unwrap_or_default());
        }
    }
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// What Go's `json.Marshal` escapes in strings (`<`, `>`, `&`, U+2028, U+2029).
pub fn escape_html(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
