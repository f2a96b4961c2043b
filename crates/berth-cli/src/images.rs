//! Image commands: images/ls, rmi/rm, tag, load, save, import, history,
//! inspect, prune.

use std::io::IsTerminal;

use berth_api::units::human_size;
use berth_api::ImageRef;
use berth_client::{enc, reader_body, Client};
use clap::{Args, Subcommand};
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::containers::{confirm, filters_json};
use crate::output::{ago, header_for, print_rows, short_id, Listing};
use crate::{CliError, Result};

#[derive(Subcommand, Debug)]
pub enum TopImageCmd {
    /// List images
    Images(LsArgs),
    /// Remove one or more images
    Rmi(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Download an image from a registry
    Pull(crate::distribution::PullArgs),
    /// Upload an image to a registry
    Push(crate::distribution::PushArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(crate::inspect::InspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Download an image from a registry
    Pull(crate::distribution::PullArgs),
    /// Upload an image to a registry
    Push(crate::distribution::PushArgs),
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all images
    #[arg(short = 'a', long)]
    all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_parser = crate::output::filter_arg)]
    filter: Vec<String>,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
    /// Repository (and tag) to list
    reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    output: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// File to import, or - for STDIN
    file: String,
    /// REPOSITORY[:TAG] for the new image
    reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    #[arg(long)]
    format: Option<String>,
    image: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(long = "filter", value_parser = crate::output::filter_arg)]
    filter: Vec<String>,
}

pub async fn run_top(client: &Client, cmd: TopImageCmd) -> Result {
    match cmd {
        TopImageCmd::Images(a) => ls(client, a).await,
        TopImageCmd::Rmi(a) => rm(client, a).await,
        TopImageCmd::Tag { source, target } => tag(client, &source, &target).await,
        TopImageCmd::Load(a) => load(client, a).await,
        TopImageCmd::Save(a) => save(client, a).await,
        TopImageCmd::Import(a) => import(client, a).await,
        TopImageCmd::History(a) => history(client, a).await,
        TopImageCmd::Pull(a) => crate::distribution::pull(client, &a).await,
        TopImageCmd::Push(a) => crate::distribution::push(client, &a).await,
    }
}

pub async fn run(client: &Client, cmd: ImageCmd) -> Result {
    match cmd {
        ImageCmd::Ls(a) => ls(client, a).await,
        ImageCmd::Rm(a) => rm(client, a).await,
        ImageCmd::Tag { source, target } => tag(client, &source, &target).await,
        ImageCmd::Load(a) => load(client, a).await,
        ImageCmd::Save(a) => save(client, a).await,
        ImageCmd::Import(a) => import(client, a).await,
        ImageCmd::History(a) => history(client, a).await,
        ImageCmd::Pull(a) => crate::distribution::pull(client, &a).await,
        ImageCmd::Push(a) => crate::distribution::push(client, &a).await,
        ImageCmd::Inspect(mut a) => {
            a.kind = Some("image".into());
            crate::inspect::inspect(client, a).await
        }
        ImageCmd::Prune(a) => prune(client, a).await,
    }
}

async fn ls(client: &Client, a: LsArgs) -> Result {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let list: Vec<Value> = client
        .get_json(&format!(
            "/images/json?all={}&filters={}",
            a.all,
            filters_json(&filters)?
        ))
        .await?;
    let mut rows = Vec::new();
    for i in &list {
        rows.extend(image_rows(i, !a.no_trunc));
    }
    let default = if a.quiet {
        "{{.ID}}"
    } else if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    // A format wins over -q here (ps is the other way round), as in docker.
    let format = a.format.as_deref();
    let header = |f: &str| {
        header_for(
            f,
            &[
                ("ID", "IMAGE ID"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
            ],
        )
    };
    print_rows(
        &rows,
        None,
        format,
        &Listing {
            go_type: "*formatter.imageContext",
            default_table: default,
            header: &header,
            probed: false,
        },
    )
}

/// An image's rows as docker's image list shows them: one per tag (and
/// `<none>` for an image without any), keys sorted as docker's JSON.
fn image_rows(i: &Value, trunc: bool) -> Vec<Value> {
    let tags = crate::output::strings(&i["RepoTags"]);
    let digests = crate::output::strings(&i["RepoDigests"]);
    let digest_of = |repo: &str| {
        digests
            .iter()
            .find_map(|d| {
                let (name, digest) = d.split_once('@')?;
                let r = ImageRef::parse(name).ok()?;
                (r.familiar_repository() == repo).then(|| digest.to_string())
            })
            .unwrap_or_else(|| "<none>".into())
    };
    let pairs: Vec<(String, String, String)> = if tags.is_empty() {
        let digest = digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map(|(_, d)| d.to_string())
            .unwrap_or_else(|| "<none>".into());
        vec![("<none>".into(), "<none>".into(), digest)]
    } else {
        tags.iter()
            .map(|t| match ImageRef::parse(t) {
                Ok(r) => {
                    let repo = r.familiar_repository();
                    let digest = digest_of(&repo);
                    (repo, r.tag.unwrap_or_else(|| "<none>".into()), digest)
                }
                Err(_) => (t.clone(), "<none>".into(), "<none>".into()),
            })
            .collect()
    };
    let created = i["Created"].as_i64().unwrap_or(0);
    let size = i["Size"].as_f64().unwrap_or(0.0);
    let shared = i["SharedSize"].as_f64().unwrap_or(-1.0);
    let virtual_size = i["VirtualSize"].as_f64().unwrap_or(size);
    let containers = match i["Containers"].as_i64() {
        Some(n) if n >= 0 => n.to_string(),
        _ => "N/A".into(),
    };
    let (shared_text, unique_text) = if shared < 0.0 {
        ("N/A".to_string(), "N/A".to_string())
    } else {
        (human_size(shared, 3), human_size(size - shared, 3))
    };
    pairs
        .into_iter()
        .map(|(repo, tag, digest)| {
            json!({
                "Containers": containers,
                "CreatedAt": crate::output::go_unix_time(created),
                "CreatedSince": ago(created),
                "Digest": digest,
                "ID": short_id(i["Id"].as_str().unwrap_or(""), !trunc),
                "Repository": repo,
                "SharedSize": shared_text,
                "Size": human_size(size, 3),
                "Tag": tag,
                "UniqueSize": unique_text,
                "VirtualSize": human_size(virtual_size, 4),
            })
        })
        .collect()
}

async fn rm(client: &Client, a: RmArgs) -> Result {
    let mut outcome = crate::output::Outcome::default();
    for img in &a.images {
        match client
            .delete_json::<Vec<Value>>(&format!(
                "/images/{img}?force={}&noprune={}",
                a.force, a.no_prune
            ))
            .await
        {
            Ok(items) => {
                for i in items {
                    if let Some(u) = i["Untagged"].as_str() {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = i["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => outcome.error(e),
        }
    }
    outcome.finish()
}

async fn tag(client: &Client, source: &str, target: &str) -> Result {
    let r = crate::distribution::check_reference(target).map_err(|why| {
        CliError::Failed(format!(
            "Error parsing reference: {target:?} is not a valid repository/tag: {why}"
        ))
    })?;
    let repo = r.familiar_repository();
    let t = r.tag.unwrap_or_else(|| "latest".into());
    client
        .post(&format!(
            "/images/{source}/tag?repo={}&tag={}",
            enc(&repo),
            enc(&t)
        ))
        .await?;
    Ok(())
}

/// Prints a JSON-lines progress stream; an `error` line fails the command.
async fn print_progress(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
) -> Result<Vec<Value>> {
    let raw = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?
        .to_bytes();
    let mut out = Vec::new();
    for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line)
            .map_err(|e| CliError::Usage(format!("invalid response: {e}")))?;
        if let Some(e) = v["error"].as_str() {
            return Err(berth_client::ClientError::Api {
                status: 500,
                message: e.to_string(),
            }
            .into());
        }
        if !quiet {
            if let Some(s) = v["stream"].as_str() {
                print!("{s}");
            }
        }
        out.push(v);
    }
    Ok(out)
}

async fn input_body(path: Option<&str>) -> Result<berth_client::RequestBody> {
    match path.filter(|p| *p != "-") {
        Some(p) => {
            let f = tokio::fs::File::open(p).await.map_err(|e| {
                CliError::Failed(format!("open {p}: {}", crate::output::go_io_error(&e)))
            })?;
            Ok(reader_body(f))
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::Usage(
                    "requested load from stdin, but stdin is empty".into(),
                ));
            }
            Ok(reader_body(tokio::io::stdin()))
        }
    }
}

async fn load(client: &Client, a: LoadArgs) -> Result {
    let body = input_body(a.input.as_deref()).await?;
    let resp = client
        .call(
            Method::POST,
            &format!("/images/load?quiet={}", a.quiet),
            body,
            Some("application/x-tar"),
        )
        .await?;
    print_progress(resp, a.quiet).await?;
    Ok(())
}

async fn save(client: &Client, a: SaveArgs) -> Result {
    let q: Vec<String> = a
        .images
        .iter()
        .map(|i| format!("names={}", enc(i)))
        .collect();
    download(
        client,
        &format!("/images/get?{}", q.join("&")),
        a.output.as_deref(),
        "failed to save image",
    )
    .await
}

/// Streams a tar answer to a file (written aside and renamed, so a failure
/// leaves no partial file) or to stdout, which must not be a terminal.
/// GETs a tar to `-o` or stdout; `what` leads docker's error when `-o` names a device.
pub async fn download(client: &Client, path: &str, output: Option<&str>, what: &str) -> Result {
    if let Some(o) = output {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::metadata(o).is_ok_and(|m| m.file_type().is_char_device()) {
            return Err(CliError::Failed(format!(
                "{what}: cannot write to a character device file"
            )));
        }
        crate::output::validate_output_path(o)?;
    }
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
        ));
    }
    let resp = client
        .call(Method::GET, path, berth_client::empty_body(), None)
        .await?;
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match output {
        Some(p) => Box::new(
            tokio::fs::File::create(format!("{p}.tmp"))
                .await
                .map_err(|e| CliError::Usage(format!("create {p}: {e}")))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| CliError::Usage(format!("download interrupted: {e}")))?;
        if let Ok(d) = frame.into_data() {
            out.write_all(&d).await?;
        }
    }
    out.flush().await?;
    if let Some(p) = output {
        tokio::fs::rename(format!("{p}.tmp"), p).await?;
    }
    Ok(())
}

async fn import(client: &Client, a: ImportArgs) -> Result {
    let mut q = vec!["fromSrc=-".to_string()];
    if let Some(r) = &a.reference {
        let parsed = ImageRef::parse(r).map_err(|e| CliError::Usage(e.message))?;
        q.push(format!("repo={}", enc(&parsed.familiar_repository())));
        q.push(format!(
            "tag={}",
            enc(parsed.tag.as_deref().unwrap_or("latest"))
        ));
    }
    for c in &a.changes {
        q.push(format!("changes={}", enc(c)));
    }
    if let Some(m) = &a.message {
        q.push(format!("message={}", enc(m)));
    }
    let body = input_body(Some(a.file.as_str())).await?;
    let resp = client
        .call(
            Method::POST,
            &format!("/images/create?{}", q.join("&")),
            body,
            Some("application/x-tar"),
        )
        .await?;
    for v in print_progress(resp, true).await? {
        if let Some(s) = v["status"].as_str() {
            println!("{s}");
        }
    }
    Ok(())
}

async fn history(client: &Client, a: HistoryArgs) -> Result {
    let items: Vec<Value> = client
        .get_json(&format!("/images/{}/history", enc(&a.image)))
        .await?;
    let rfc3339 = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            let id = i["Id"].as_str().unwrap_or("");
            let created = i["Created"].as_i64().unwrap_or(0);
            let mut by = i["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
            if !a.no_trunc {
                by = crate::output::ellipsis(&by, 45);
            }
            let size = i["Size"].as_f64().unwrap_or(0.0);
            json!({
                "Comment": i["Comment"],
                "CreatedAt": rfc3339(created),
                "CreatedBy": by,
                "CreatedSince": if a.human { ago(created) } else { rfc3339(created) },
                "ID": if id == "<missing>" { id.to_string() } else { short_id(id, a.no_trunc) },
                "Size": if a.human { human_size(size, 3) } else { size.to_string() },
            })
        })
        .collect();
    let default = match (a.quiet, a.human) {
        (true, _) => "{{.ID}}",
        (false, true) => {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
        }
        (false, false) => "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    };
    let format = if a.quiet { None } else { a.format.as_deref() };
    let header = |f: &str| {
        header_for(
            f,
            &[
                ("ID", "IMAGE"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("CreatedBy", "CREATED BY"),
            ],
        )
    };
    print_rows(
        &rows,
        None,
        format,
        &Listing {
            go_type: "*image.historyContext",
            default_table: default,
            header: &header,
            probed: false,
        },
    )
}

async fn prune(client: &Client, a: PruneArgs) -> Result {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !confirm(a.force, warning) {
        return Ok(());
    }
    let mut filters = a.filter.clone();
    if a.all {
        filters.push("dangling=false".into());
    }
    let r: Value = client
        .post_json(
            &format!("/images/prune?filters={}", filters_json(&filters)?),
            &json!({}),
        )
        .await?;
    let deleted = r["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Images:");
        for d in deleted {
            if let Some(u) = d["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(x) = d["Deleted"].as_str() {
                println!("deleted: {x}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(r["SpaceReclaimed"].as_f64().unwrap_or(0.0), 3)
    );
    Ok(())
}
