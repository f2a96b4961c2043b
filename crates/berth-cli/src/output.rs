//! Listings as docker prints them: aligned tables (Go's tabwriter with
//! padding 3), `--format json`, and Go-template formats.

use serde_json::Value;

use crate::CliError;
use berth_template::{Context, Fields, Template};

/// Aligns tab-separated cells into columns, as `tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)`:
/// the text after a line's last tab is not a cell and is not padded.
pub fn tabulate(text: &str) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push('\n');
    }
    out
}

/// A list as docker's formatters print it.
pub struct Listing<'a> {
    /// The Go type docker formats each row as (named when a field is not there).
    pub go_type: &'static str,
    pub default_table: &'a str,
    pub header: &'a dyn Fn(&str) -> String,
    /// `ps` reads the template once before listing (to see whether it needs
    /// sizes), and words its errors after that step.
    pub probed: bool,
}

/// Prints rows (JSON objects with docker's formatter field names; `labels`,
/// when given, each row's labels for `{{.Label "k"}}`): the default table,
/// `table …`, `json`, or a template. Nothing is printed if a row fails, as
/// docker renders the whole list before writing it.
pub fn print_rows(
    rows: &[Value],
    labels: Option<&[Value]>,
    format: Option<&str>,
    l: &Listing,
) -> Result<(), CliError> {
    let format = match format.filter(|f| !f.is_empty()).unwrap_or("table") {
        "table" => l.default_table,
        "json" => "{{json .}}",
        f => f,
    };
    let t = Template::parse_list(format).map_err(|e| {
        let what = if l.probed {
            "failed to parse template"
        } else {
            "template parsing error"
        };
        CliError::Failed(format!("{what}: {e}"))
    })?;
    let mut text = String::new();
    if t.table {
        text.push_str(&t.header(l.header));
        text.push('\n');
    }
    for (i, r) in rows.iter().enumerate() {
        let methods = labels
            .and_then(|ls| ls.get(i))
            .map(|m| serde_json::json!({ "Label": m }));
        let ctx = Context {
            fields: Fields::Struct(l.go_type),
            methods: methods.as_ref(),
            header: false,
        };
        let line = t.render(r, &ctx).map_err(|e| {
            let what = if l.probed {
                "failed to execute template"
            } else {
                "template parsing error"
            };
            CliError::Failed(format!("{what}: {e}"))
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    if t.table {
        print!("{}", tabulate(&text));
    } else {
        print!("{text}");
    }
    Ok(())
}

/// A command acting on several objects: errors are printed as they come,
/// and the command fails at the end if any did, as docker's do.
#[derive(Default)]
pub struct Outcome {
    failed: bool,
}

impl Outcome {
    pub fn error(&mut self, e: impl std::fmt::Display) {
        eprintln!("{e}");
        self.failed = true;
    }

    pub fn finish(self) -> Result<(), CliError> {
        if self.failed {
            Err(CliError::Exit(1))
        } else {
            Ok(())
        }
    }
}

/// A prune answer as docker prints it: the removed items (the strings in
/// `report[key]`) under a title, then `SpaceReclaimed`.
pub fn print_prune(title: &str, report: &serde_json::Value, key: &str) {
    let deleted: Vec<&str> = report[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .collect();
    let reclaimed = report["SpaceReclaimed"].as_f64().unwrap_or(0.0);
    if !deleted.is_empty() {
        println!("{title}:");
        for d in deleted {
            println!("{d}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        berth_api::units::human_size(reclaimed, 3)
    );
}

/// "5 minutes ago", from a unix time.
pub fn ago(unix: i64) -> String {
    let d = (chrono::Utc::now().timestamp() - unix).max(0) as u64;
    format!(
        "{} ago",
        berth_api::units::human_duration(std::time::Duration::from_secs(d))
    )
}

/// A 12-character ID (without `sha256:`), or the whole ID with `--no-trunc`.
pub fn short_id(id: &str, no_trunc: bool) -> String {
    let bare = id.strip_prefix("sha256:").unwrap_or(id);
    if no_trunc {
        id.to_string()
    } else {
        bare.chars().take(12).collect()
    }
}

/// Docker's header for a formatter field: `.ID` -> `CONTAINER ID` etc.
pub fn header_for(field: &str, special: &[(&str, &str)]) -> String {
    if let Some((_, h)) = special.iter().find(|(f, _)| *f == field) {
        return h.to_string();
    }
    // CamelCase -> "CAMEL CASE"
    let mut out = String::new();
    for (i, c) in field.chars().enumerate() {
        if c.is_uppercase() && i > 0 && !out.ends_with(' ') {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// Refuses to write over what is neither a directory nor a regular file (a
/// device, a socket): `cp`, `save -o` and `export -o` would replace it, and
/// `/dev/null` replaced by a file breaks the host. docker's words.
pub fn validate_output_path(path: &str) -> Result<(), CliError> {
    use std::os::unix::fs::FileTypeExt;
    let p = std::path::Path::new(path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            return Err(CliError::Failed(format!(
                "invalid output path: directory {:?} does not exist",
                dir.display().to_string()
            )));
        }
    }
    let Ok(meta) = std::fs::metadata(p) else {
        return Ok(());
    };
    let t = meta.file_type();
    let why = if t.is_dir() || t.is_file() || t.is_fifo() {
        return Ok(());
    } else if t.is_block_device() || t.is_char_device() {
        "got a device"
    } else {
        "got an irregular file"
    };
    Err(CliError::Failed(format!(
        "invalid output path: {path:?} must be a directory or a regular file: {why}"
    )))
}

/// An I/O error as Go words it (`no such file or directory`), for messages
/// that quote docker's (`open PATH: …`).
pub fn go_io_error(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n).to_string(),
        None => return e.to_string(),
    };
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A `--filter` value, refused at parsing as docker's flag refuses it.
pub fn filter_arg(s: &str) -> Result<String, String> {
    if s.contains('=') {
        Ok(s.to_string())
    } else {
        Err("bad format of filter (expected name=value)".into())
    }
}

/// A memory size flag (`64m`, `1.5GiB`, `-1`), refused at parsing with go-units' words.
pub fn size_arg(s: &str) -> Result<String, String> {
    if s == "-1" {
        return Ok(s.to_string());
    }
    berth_api::units::parse_ram(s).map(|_| s.to_string())
}

/// The strings of a JSON array (others and non-arrays left out).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(String::from))
        .collect()
}

/// `s` cut to `width` characters, the last one an ellipsis, as docker's `Ellipsis`.
pub fn ellipsis(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    s.chars().take(width - 1).collect::<String>() + "\u{2026}"
}

/// Labels as docker's lists join them: `k=v,k2=v2`.
pub fn join_labels(labels: &Value) -> String {
    labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `time.Time.String()` of an RFC 3339 time: `2026-12-01 23:56:59.096644391 +0000 UTC`.
pub fn go_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| go_time_of(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

/// The same of Unix seconds (the lists' `CreatedAt`).
pub fn go_unix_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(go_time_of)
        .unwrap_or_default()
}

fn go_time_of(t: chrono::DateTime<chrono::Utc>) -> String {
    let nanos = t.timestamp_subsec_nanos();
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!("{}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

/// The order docker sorts names in (`sortorder.NaturalLess`): runs of
/// digits compare as numbers.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let m = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..n], &y[..m]);
                let trim = |d: &[u8]| -> Vec<u8> {
                    d.iter().skip_while(|c| **c == b'0').copied().collect()
                };
                let (tx, ty) = (trim(dx), trim(dy));
                let o = tx.len().cmp(&ty.len()).then(tx.cmp(&ty)).then(n.cmp(&m));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = &x[n..];
                y = &y[m..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

/// `--opt k=v` / `--label k=v` lists as a JSON object (a bare `k` is `k=""`).
pub fn key_values(list: &[String]) -> crate::Result<serde_json::Map<String, Value>> {
    list.iter()
        .map(|o| {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            if k.is_empty() {
                return Err(CliError::Usage(format!("invalid key=value: {o:?}")));
            }
            Ok((k.to_string(), Value::String(v.to_string())))
        })
        .collect()
}

/// Calls `f` with each JSON line of a streamed answer (build, pull and push
/// progress) as it arrives, not when the stream ends.
pub async fn json_lines(
    resp: hyper::Response<hyper::body::Incoming>,
    mut f: impl FnMut(serde_json::Value) -> crate::Result,
) -> crate::Result {
    use http_body_util::BodyExt;
    let mut body = resp.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| crate::CliError::Usage(format!("reading progress: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            if let Ok(v) = serde_json::from_slice(&line) {
                f(v)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns() {
        let t = tabulate("A\tBB\tC\nlong\tx\ty\n");
        assert_eq!(t, "A      BB   C\nlong   x    y\n");
        assert_eq!(header_for("RunningFor", &[]), "RUNNING FOR");
        assert_eq!(header_for("ID", &[("ID", "CONTAINER ID")]), "CONTAINER ID");
        let mut names = vec!["net10", "net9", "bridge", "host", "net-a"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["bridge", "host", "net-a", "net9", "net10"]);
        assert_eq!(
            go_time("2026-12-01T23:56:59.096644390Z"),
            "2026-12-01 23:56:59.09664439 +0000 UTC"
        );
    }
}
