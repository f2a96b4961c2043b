//! `berth build`: sends the context (a directory tarred on the fly with
//! `.dockerignore` applied, a tar, or a Dockerfile on stdin) to `POST /build`
//! and shows each step with its time and whether the cache served it.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_build::ignore::Ignore;
use berth_client::{enc, Client, RequestBody};
use bytes::Bytes;
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;

use crate::{CliError, Result};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_parser = tag_arg)]
    tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    no_cache: bool,
    /// Images to consider as cache sources
    #[arg(long = "cache-from")]
    cache_from: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    iidfile: Option<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long, default_value = "default")]
    network: String,
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long = "add-host")]
    add_host: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    shm_size: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Always attempt to pull a newer version of the image (images are local for now: ignored)
    #[arg(long)]
    pull: bool,
    /// Remove intermediate containers after a successful build (always done)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    rm: bool,
    /// Always remove intermediate containers (always done)
    #[arg(long = "force-rm")]
    force_rm: bool,
    /// Type of progress output: auto and tty print docker's lines, plain adds each
    /// step's time and whether the cache served it, quiet prints the image ID
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "tty", "quiet", "rawjson"])]
    progress: String,
    /// PATH | URL (http://, of a tar or a Dockerfile) | - (a Dockerfile or a tar on stdin) | a tar file
    context: String,
}

/// A `-t` value, refused at parsing as docker's flag refuses it.
fn tag_arg(s: &str) -> std::result::Result<String, String> {
    berth_api::ImageRef::parse(s)
        .map(|_| s.to_string())
        .map_err(|_| "invalid reference format".into())
}

/// docker's progress line as the upload ends (the daemon has answered, so it
/// has the context), carriage returns and all; nothing for a remote context.
fn context_line(remote: bool) -> String {
    if remote {
        return String::new();
    }
    let sent = SENT.load(std::sync::atomic::Ordering::Relaxed);
    format!(
        "Sending build context to {} daemon  {}\r\r\n",
        if crate::messages::prog() == "docker" {
            "Docker"
        } else {
            "Berth"
        },
        berth_api::units::human_size(sent as f64, 4)
    )
}

/// Bytes of the context sent so far (docker reports the total).
static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A request body fed by a blocking writer on another thread.
struct ChanWriter(tokio::sync::mpsc::Sender<std::io::Result<Bytes>>);

impl Write for ChanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "request ended"))?;
        SENT.fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn channel_body(rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>) -> RequestBody {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|item| (item.map(hyper::body::Frame::data), rx))
    });
    http_body_util::StreamBody::new(stream).boxed()
}

/// Tars `dir` as the context, leaving out what `.dockerignore` excludes (but
/// never the Dockerfile or `.dockerignore`: the daemon needs them), plus a
/// Dockerfile from elsewhere under `extra` if given.
fn write_context(
    dir: &Path,
    dockerfile: &str,
    extra: Option<(String, Vec<u8>)>,
    out: impl Write,
) -> std::io::Result<()> {
    let ignore = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(t) => Ignore::parse(&t).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(".dockerignore: {e}"),
            )
        })?,
        Err(_) => Ignore::default(),
    };
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(&rel_dir))?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let rel = rel_dir.join(e.file_name());
            let rel_s = rel.to_string_lossy().to_string();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                // Descend anyway: an exception (`!dir/keep`) may bring something back.
                stack.push(rel.clone());
            }
            if ignore.excluded(&rel_s) && rel_s != dockerfile && rel_s != ".dockerignore" {
                continue;
            }
            tar.append_path_with_name(e.path(), &rel)?;
        }
    }
    if let Some((name, data)) = extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        tar.append_data(&mut h, name, data.as_slice())?;
    }
    tar.into_inner()?.flush()
}

/// The request body, and the Dockerfile name to send with it.
fn context_body(a: &BuildArgs) -> Result<(RequestBody, Option<String>)> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    if a.context == "-" {
        if std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "the build context \"-\" needs a Dockerfile or a tar on stdin".into(),
            ));
        }
        std::thread::spawn(move || {
            let mut w = ChanWriter(tx);
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut w);
        });
        return Ok((channel_body(rx), None));
    }
    let path = PathBuf::from(&a.context);
    let meta = std::fs::metadata(&path).map_err(|e| {
        CliError::Failed(match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("unable to prepare context: path {:?} not found", a.context)
            }
            _ => format!("unable to prepare context: {}: {e}", a.context),
        })
    })?;
    if meta.is_file() {
        // A context already packed as a tar (plain, gzip or zstd).
        std::thread::spawn(move || {
            if let Ok(mut f) = std::fs::File::open(&path) {
                let _ = std::io::copy(&mut f, &mut ChanWriter(tx));
            }
        });
        return Ok((channel_body(rx), a.file.clone()));
    }
    // -f inside the context is named relative to it; from elsewhere (or stdin) it travels in the tar.
    let (name, extra) = match a.file.as_deref() {
        None => ("Dockerfile".to_string(), None),
        Some("-") => {
            let mut text = Vec::new();
            std::io::stdin().read_to_end(&mut text)?;
            let name = format!(".dockerfile.{:012x}", rand_suffix());
            (name.clone(), Some((name, text)))
        }
        Some(f) => {
            let abs = std::fs::canonicalize(f).map_err(|e| {
                CliError::Failed(match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {f}: no such file or directory"
                    ),
                    _ => format!("unable to prepare context: {f}: {e}"),
                })
            })?;
            let root = std::fs::canonicalize(&path)?;
            match abs.strip_prefix(&root) {
                Ok(rel) => (rel.to_string_lossy().into_owned(), None),
                Err(_) => {
                    let name = format!(".dockerfile.{:012x}", rand_suffix());
                    (name.clone(), Some((name, std::fs::read(&abs)?)))
                }
            }
        }
    };
    let dockerfile = name.clone();
    std::thread::spawn(move || {
        // Big chunks: one channel message per 256 KiB, not per tar write.
        let w = std::io::BufWriter::with_capacity(256 * 1024, ChanWriter(tx.clone()));
        if let Err(e) = write_context(&path, &dockerfile, extra, w) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    Ok((channel_body(rx), Some(name)))
}

fn rand_suffix() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) ^ (std::process::id() as u64) << 32
}

fn key_values(items: &[String], what: &str) -> Result<serde_json::Map<String, Value>> {
    let mut m = serde_json::Map::new();
    for kv in items {
        match kv.split_once('=') {
            Some((k, v)) => m.insert(k.to_string(), Value::String(v.to_string())),
            // `--build-arg NAME` takes the value from the environment, as docker does.
            None if what == "build-arg" => match std::env::var(kv) {
                Ok(v) => m.insert(kv.clone(), Value::String(v)),
                Err(_) => m.insert(kv.clone(), Value::Null),
            },
            None => m.insert(kv.clone(), Value::String(String::new())),
        };
    }
    Ok(m)
}

/// Step timing: "Step N/M" lines start a step; the next one (or the end) closes it.
struct Steps {
    current: Option<(String, Instant, bool)>,
}

impl Steps {
    fn finish(&mut self) {
        if let Some((step, started, cached)) = self.current.take() {
            let how = if cached { "cached" } else { "built" };
            println!(
                " ---> [{step}] {how} in {:.2}s",
                started.elapsed().as_secs_f64()
            );
        }
    }

    fn line(&mut self, s: &str) {
        if s.starts_with("Successfully built") || s.starts_with("[Warning]") {
            self.finish();
        } else if let Some(rest) = s.strip_prefix("Step ") {
            self.finish();
            let n = rest.split_whitespace().next().unwrap_or("").to_string();
            self.current = Some((n, Instant::now(), false));
        } else if s.trim() == "---> Using cache" {
            if let Some(c) = self.current.as_mut() {
                c.2 = true;
            }
        }
    }
}

pub async fn build(client: &Client, a: BuildArgs) -> Result {
    let remote = ["http://", "https://", "git://", "git@"]
        .iter()
        .any(|p| a.context.starts_with(p));
    let (body, dockerfile) = if remote {
        // The daemon fetches it.
        (berth_client::empty_body(), a.file.clone())
    } else {
        context_body(&a)?
    };
    let mut q = vec![format!("rm={}", a.rm), format!("forcerm={}", a.force_rm)];
    if remote {
        q.push(format!("remote={}", enc(&a.context)));
    }
    for t in &a.tags {
        q.push(format!("t={}", enc(t)));
    }
    if let Some(d) = &dockerfile {
        q.push(format!("dockerfile={}", enc(d)));
    }
    q.push(format!(
        "buildargs={}",
        enc(&Value::Object(key_values(&a.build_args, "build-arg")?).to_string())
    ));
    q.push(format!(
        "labels={}",
        enc(&Value::Object(key_values(&a.labels, "label")?).to_string())
    ));
    if a.no_cache {
        q.push("nocache=1".into());
    }
    if !a.cache_from.is_empty() {
        q.push(format!(
            "cachefrom={}",
            enc(&serde_json::json!(a.cache_from).to_string())
        ));
    }
    if a.quiet || a.progress == "quiet" {
        q.push("q=1".into());
    }
    if let Some(t) = &a.target {
        q.push(format!("target={}", enc(t)));
    }
    q.push(format!("networkmode={}", enc(&a.network)));
    if !a.add_host.is_empty() {
        q.push(format!("extrahosts={}", enc(&a.add_host.join(","))));
    }
    for (key, v) in [("shmsize", &a.shm_size), ("memory", &a.memory)] {
        if let Some(v) = v {
            let bytes = berth_api::units::ram_in_bytes(v)
                .ok_or_else(|| CliError::Usage(format!("invalid size: {v:?}")))?;
            q.push(format!("{key}={bytes}"));
        }
    }
    let registry_config = crate::credentials::registry_config()?;
    let answer = client
        .call_with(
            Method::POST,
            &format!("/build?{}", q.join("&")),
            body,
            &[
                ("content-type", "application/x-tar"),
                ("x-registry-config", &registry_config),
            ],
        )
        .await;
    let quiet = a.quiet || a.progress == "quiet";
    let timed = a.progress == "plain";
    if !quiet {
        print!("{}", context_line(remote));
    }
    let resp = match answer {
        Ok(r) => r,
        // Quiet, docker shows the progress it kept back before the error.
        Err(e) if quiet => {
            eprint!("{}", context_line(remote));
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut steps = Steps { current: None };
    let mut image_id = None;
    let mut error = None;
    crate::output::json_lines(resp, |v| {
        if let Some(e) = v["error"].as_str() {
            error = Some((e.to_string(), v["errorDetail"]["code"].as_i64()));
        } else if let Some(id) = v["aux"]["ID"].as_str() {
            image_id = Some(id.to_string());
        } else if let Some(s) = v["stream"].as_str() {
            if !quiet {
                if timed {
                    steps.line(s);
                }
                print!("{s}");
                let _ = std::io::stdout().flush();
            }
        }
        Ok(())
    })
    .await?;
    if timed {
        steps.finish();
    }
    // A failed step: docker prints its message and leaves with the step's
    // code; quiet, it shows the progress it kept back and the daemon's words.
    if let Some((e, code)) = error {
        if quiet {
            eprint!("{}", context_line(remote));
            return Err(CliError::Failed(format!("Error response from daemon: {e}")));
        }
        return Err(CliError::Status(e, code.map_or(1, |c| c as i32)));
    }
    let id = image_id.ok_or_else(|| CliError::Usage("the build ended without an image".into()))?;
    if quiet {
        println!("{id}");
    }
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &id)?;
    }
    Ok(())
}

#[derive(clap::Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum BuilderCmd {
    /// Remove build cache
    Prune {
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        /// Remove all unused build cache, not just dangling ones (the same here)
        #[arg(short, long)]
        all: bool,
    },
    /// Build an image from a Dockerfile
    Build(BuildArgs),
}

pub async fn builder(client: &Client, cmd: BuilderCmd) -> Result {
    match cmd {
        BuilderCmd::Build(a) => build(client, a).await,
        BuilderCmd::Prune { force, all: _ } => {
            if !crate::containers::confirm(
                force,
                "WARNING! This will remove all dangling build cache.",
            ) {
                return Ok(());
            }
            let r: Value = client.post_json("/build/prune", &Value::Null).await?;
            crate::output::print_prune("Deleted build cache objects", &r, "CachesDeleted");
            Ok(())
        }
    }
}
