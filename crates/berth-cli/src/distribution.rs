//! `berth pull` and `berth push`: credentials from the config file sent as
//! `X-Registry-Auth`, and Docker's progress: on a terminal a line per layer
//! redrawn in place with a bar, elsewhere a line per change.

use std::io::{IsTerminal as _, Write as _};

use berth_client::{enc, Client};
use clap::Args;
use hyper::Method;
use serde_json::Value;

use crate::Result;

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// NAME[:TAG|@DIGEST]
    pub image: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    /// NAME[:TAG]
    image: String,
}

/// Where progress goes and how it looks.
struct Progress {
    quiet: bool,
    on_stderr: bool,
    terminal: bool,
    /// Every line shown so far, and which layer each belongs to.
    lines: Vec<Option<String>>,
}

/// Docker's sizes: `12.35MB`.
fn size(n: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut n = n;
    let mut u = 0;
    while n >= 1000.0 && u < units.len() - 1 {
        n /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}{}", units[u])
    } else {
        format!("{n:.2}{}", units[u])
    }
}

/// `[=====>      ]  12.35MB/40.12MB`, or just the count without a total.
fn bar(detail: &Value) -> Option<String> {
    let current = detail["current"].as_f64()?;
    let Some(total) = detail["total"].as_f64().filter(|t| *t > 0.0) else {
        return Some(size(current));
    };
    let width = 50usize;
    let filled = ((current / total).min(1.0) * width as f64) as usize;
    let mut b = "=".repeat(filled);
    if filled < width {
        b.push('>');
        b.push_str(&" ".repeat(width - filled - 1));
    }
    Some(format!("[{b}] {:>8}/{}", size(current), size(total)))
}

impl Progress {
    fn new(quiet: bool, on_stderr: bool) -> Progress {
        let terminal = if on_stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        Progress {
            quiet,
            on_stderr,
            terminal,
            lines: Vec::new(),
        }
    }

    fn write(&self, text: &str) {
        if self.on_stderr {
            let _ = write!(std::io::stderr(), "{text}");
        } else {
            let _ = write!(std::io::stdout(), "{text}");
            let _ = std::io::stdout().flush();
        }
    }

    fn show(&mut self, v: &Value) {
        let Some(status) = v["status"].as_str() else {
            return;
        };
        if self.quiet {
            return;
        }
        let id = v["id"].as_str();
        let mut text = match id {
            Some(id) => format!("{id}: {status}"),
            None => status.to_string(),
        };
        if !self.terminal {
            // A line per change, without the bars' churn.
            if v["progressDetail"]["current"].is_null() {
                self.write(&format!("{text}\n"));
            }
            return;
        }
        if let Some(b) = bar(&v["progressDetail"]) {
            text = format!("{text} {b}");
        }
        let known = id.and_then(|id| self.lines.iter().position(|l| l.as_deref() == Some(id)));
        match known {
            Some(i) => {
                let up = self.lines.len() - i;
                self.write(&format!("\x1b[{up}A\r\x1b[2K{text}\x1b[{up}B\r"));
            }
            None => {
                self.lines.push(id.map(String::from));
                self.write(&format!("\x1b[2K{text}\n"));
            }
        }
    }
}

/// Reads a JSON-lines progress stream, showing it; the stream's error line
/// becomes the command's error.
async fn follow(resp: hyper::Response<hyper::body::Incoming>, mut p: Progress) -> Result {
    crate::output::json_lines(resp, |v| {
        // docker prints a stream's error as it is, not as the daemon's answer.
        if let Some(e) = v["error"].as_str() {
            return Err(crate::CliError::Failed(e.to_string()));
        }
        p.show(&v);
        Ok(())
    })
    .await
}

/// `name[:tag|@digest]` split as the API wants it: `tag` is the tag or the
/// digest, None when the reference has neither.
fn split_reference(image: &str) -> (&str, Option<&str>) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name, Some(digest));
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (image, None),
    }
}

/// A reference checked before anything is sent, as docker's CLI does.
pub fn check_reference(image: &str) -> Result<berth_api::ImageRef> {
    berth_api::ImageRef::parse(image).map_err(|e| {
        crate::CliError::Failed(if e.message.contains("must be lowercase") {
            e.message
        } else {
            "invalid reference format".into()
        })
    })
}

/// `busybox:latest`, `me/app@sha256:…`: a reference as docker names it to users.
pub fn familiar(r: &berth_api::ImageRef) -> String {
    match (&r.digest, &r.tag) {
        (Some(d), _) => format!("{}@{d}", r.familiar_repository()),
        (None, Some(t)) => format!("{}:{t}", r.familiar_repository()),
        (None, None) => r.familiar_repository(),
    }
}

pub async fn pull(client: &Client, a: &PullArgs) -> Result {
    let r = check_reference(&a.image)?;
    let (name, tag) = split_reference(&a.image);
    if tag.is_none() && !a.all_tags && !a.quiet {
        println!("Using default tag: latest");
    }
    if a.all_tags && tag.is_some() {
        return Err(crate::CliError::Failed(
            "tag can't be used with --all-tags/-a".into(),
        ));
    }
    // No tag asks the daemon for every tag, as the API says.
    let tag = if a.all_tags {
        None
    } else {
        Some(tag.unwrap_or("latest"))
    };
    request_pull(client, name, tag, a.platform.as_deref(), a.quiet, false).await?;
    // docker ends with the reference it pulled, in full (`docker.io/library/busybox:latest`).
    let full = match (&r.digest, a.all_tags) {
        (_, true) => r.repository(),
        (Some(d), _) => format!("{}@{d}", r.repository()),
        (None, _) => format!(
            "{}:{}",
            r.repository(),
            r.tag.as_deref().unwrap_or("latest")
        ),
    };
    println!("{full}");
    Ok(())
}

/// The pull `run` and `create` do, its progress on stderr.
pub async fn pull_image(client: &Client, image: &str, platform: Option<&str>) -> Result {
    let (name, tag) = split_reference(image);
    request_pull(
        client,
        name,
        Some(tag.unwrap_or("latest")),
        platform,
        false,
        true,
    )
    .await
}

async fn request_pull(
    client: &Client,
    name: &str,
    tag: Option<&str>,
    platform: Option<&str>,
    quiet: bool,
    on_stderr: bool,
) -> Result {
    let mut q = format!("/images/create?fromImage={}", enc(name));
    if let Some(t) = tag {
        q.push_str(&format!("&tag={}", enc(t)));
    }
    if let Some(p) = platform {
        q.push_str(&format!("&platform={}", enc(p)));
    }
    post_with_progress(client, &q, name, Progress::new(quiet, on_stderr)).await
}

/// POSTs to a progress endpoint with `image`'s registry credentials, if any
/// are kept, as `X-Registry-Auth`, and shows the progress.
async fn post_with_progress(client: &Client, path: &str, image: &str, p: Progress) -> Result {
    let auth = crate::credentials::registry_auth(image)?;
    let headers: Vec<(&str, &str)> = auth
        .iter()
        .map(|a| ("x-registry-auth", a.as_str()))
        .collect();
    let resp = client
        .call_with(Method::POST, path, berth_client::empty_body(), &headers)
        .await?;
    follow(resp, p).await
}

pub async fn push(client: &Client, a: &PushArgs) -> Result {
    let (name, tag) = split_reference(&a.image);
    let mut path = format!("/images/{name}/push");
    if let Some(t) = tag {
        path.push_str(&format!("?tag={}", enc(t)));
    }
    post_with_progress(client, &path, name, Progress::new(a.quiet, false)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_bars() {
        assert_eq!(split_reference("a/b:1"), ("a/b", Some("1")));
        assert_eq!(
            split_reference("127.0.0.1:5000/a"),
            ("127.0.0.1:5000/a", None)
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/a:v"),
            ("127.0.0.1:5000/a", Some("v"))
        );
        assert_eq!(split_reference("a@sha256:00"), ("a", Some("sha256:00")));
        assert_eq!(size(999.0), "999B");
        assert_eq!(size(12_345_678.0), "12.35MB");
        let b = bar(&serde_json::json!({"current": 50, "total": 100})).unwrap();
        assert!(b.starts_with(&format!("[{}>", "=".repeat(25))), "{b}");
        assert!(b.ends_with("50B/100B"), "{b}");
        assert!(bar(&serde_json::json!({})).is_none());
    }
}
