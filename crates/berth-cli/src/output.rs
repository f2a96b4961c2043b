//! Listings as docker prints them: aligned tables (Go's tabwriter with
//! padding 3), `--format json`, and Go-template formats.

use serde_json::Value;

use crate::template::Template;
use crate::CliError;

/// Aligns tab-separated cells into columns, as `tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)`.
pub fn tabulate(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
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

/// Prints rows (JSON objects with docker's formatter field names).
pub fn print_rows(
    rows: &[Value],
    format: Option<&str>,
    default_table: &str,
    header: &dyn Fn(&str) -> String,
) -> Result<(), CliError> {
    let format = format.filter(|f| !f.is_empty()).unwrap_or("table");
    if format == "json" {
        for r in rows {
            println!(
                "{}",
                serde_json::to_string(r).map_err(|e| CliError::Usage(e.to_string()))?
            );
        }
        return Ok(());
    }
    let src = if format == "table" {
        default_table
    } else {
        format
    };
    let t = Template::parse(src)
        .map_err(|e| CliError::Usage(format!("template parsing error: {e}")))?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(header));
    }
    for r in rows {
        lines.push(
            t.render(r)
                .map_err(|e| CliError::Usage(format!("template: {e}")))?,
        );
    }
    if t.table {
        print!("{}", tabulate(&lines));
    } else {
        for l in lines {
            println!("{l}");
        }
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
        let t = tabulate(&["A\tBB\tC".into(), "long\tx\ty".into()]);
        assert_eq!(t, "A      BB   C\nlong   x    y\n");
        assert_eq!(header_for("RunningFor", &[]), "RUNNING FOR");
        assert_eq!(header_for("ID", &[("ID", "CONTAINER ID")]), "CONTAINER ID");
    }
}
