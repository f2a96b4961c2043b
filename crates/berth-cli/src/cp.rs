//! `berth cp`: files between a container and the host, as docker cp does it
//! (into an existing directory, or to a new name; `-` for a tar on stdio).

use std::path::{Path, PathBuf};

use berth_client::{enc, reader_body, Client};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use tokio::io::AsyncWriteExt;

use crate::{CliError, Result};

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    follow: bool,
    /// CONTAINER:SRC_PATH or a local path (- for a tar on stdin)
    src: String,
    /// CONTAINER:DEST_PATH or a local path (- for a tar on stdout)
    dest: String,
}

fn split(arg: &str) -> Option<(&str, &str)> {
    // A local path may contain ':' only after a '/' (docker's rule).
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

fn usage(m: impl Into<String>) -> CliError {
    CliError::Usage(m.into())
}

pub async fn cp(client: &Client, a: CpArgs) -> Result {
    match (split(&a.src), split(&a.dest)) {
        (Some((c, p)), None) => {
            let p = if a.follow {
                link_target(client, c, p)
                    .await?
                    .unwrap_or_else(|| p.to_string())
            } else {
                p.to_string()
            };
            from_container(client, c, &p, &a.dest, a.archive).await
        }
        (None, Some((c, p))) => to_container(client, &a.src, c, p, a.archive, a.follow).await,
        (Some(_), Some(_)) => Err(usage("copying between containers is not supported")),
        (None, None) => Err(usage("must specify at least one container source")),
    }
}

/// The path's stat as the daemon reports it (`X-Docker-Container-Path-Stat`).
async fn stat(client: &Client, c: &str, path: &str) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let r = client
        .call(
            Method::HEAD,
            &format!("/containers/{}/archive?path={}", enc(c), enc(path)),
            berth_client::empty_body(),
            None,
        )
        .await
        .ok()?;
    let h = r
        .headers()
        .get("x-docker-container-path-stat")?
        .to_str()
        .ok()?;
    serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(h).ok()?).ok()
}

/// With `-L`: where a symlink leads, inside the container.
async fn link_target(client: &Client, c: &str, path: &str) -> Result<Option<String>> {
    Ok(stat(client, c, path)
        .await
        .and_then(|s| s["linkTarget"].as_str().map(String::from))
        .filter(|t| !t.is_empty()))
}

async fn from_container(
    client: &Client,
    c: &str,
    path: &str,
    dest: &str,
    keep_owners: bool,
) -> Result {
    if dest != "-" {
        crate::output::validate_output_path(dest)?;
    }
    let resp = client
        .call(
            Method::GET,
            &format!("/containers/{}/archive?path={}", enc(c), enc(path)),
            berth_client::empty_body(),
            None,
        )
        .await?;
    let mut body = resp.into_body();
    if dest == "-" {
        let mut out = tokio::io::stdout();
        while let Some(frame) = body.frame().await {
            if let Ok(d) = frame
                .map_err(|e| usage(format!("copy interrupted: {e}")))?
                .into_data()
            {
                out.write_all(&d).await?;
            }
        }
        return Ok(out.flush().await?);
    }
    let dest = PathBuf::from(dest);
    let into_dir = dest.is_dir();
    let parent = if into_dir {
        dest.clone()
    } else {
        dest.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| ".".into())
    };
    if !parent.is_dir() {
        return Err(usage(format!(
            "destination directory {} does not exist",
            parent.display()
        )));
    }
    let staging = tempdir_in(&parent)?;
    // The archive streams through a pipe into a thread that unpacks it.
    let (reader, writer) = big_pipe()?;
    let stage = staging.clone();
    let unpack = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut ar = tar::Archive::new(reader);
        ar.set_preserve_permissions(true);
        ar.set_preserve_ownerships(keep_owners);
        ar.set_overwrite(true);
        for e in ar.entries()? {
            // unpack_in refuses members that would land outside the staging dir.
            e?.unpack_in(&stage)?;
        }
        Ok(())
    });
    let mut pipe =
        tokio::fs::File::from_std(std::fs::File::from(std::os::fd::OwnedFd::from(writer)));
    let mut streamed: Result<()> = Ok(());
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    if pipe.write_all(&d).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                streamed = Err(usage(format!("copy interrupted: {e}")));
                break;
            }
        }
    }
    drop(pipe);
    let unpacked = unpack.await.map_err(|e| usage(e.to_string()))?;
    let result = streamed
        .and_then(|()| unpacked.map_err(|e| usage(format!("copy to {}: {e}", dest.display()))))
        .and_then(|()| {
            let root = std::fs::read_dir(&staging)?
                .next()
                .transpose()?
                .ok_or_else(|| usage("empty archive"))?;
            let target = if into_dir {
                dest.join(root.file_name())
            } else {
                dest.clone()
            };
            if target.is_dir() && root.path().is_dir() {
                merge_dir(&root.path(), &target)?;
            } else {
                std::fs::rename(root.path(), &target)?;
            }
            Ok(())
        });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// A pipe with a 1 MiB buffer: fewer wake-ups between the tar thread and the stream.
fn big_pipe() -> std::io::Result<(std::io::PipeReader, std::io::PipeWriter)> {
    let (r, w) = std::io::pipe()?;
    // SAFETY: F_SETPIPE_SZ on a pipe we own; failure only leaves the default size.
    unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&w),
            libc::F_SETPIPE_SZ,
            1 << 20,
        )
    };
    Ok((r, w))
}

fn merge_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = to.join(e.file_name());
        if t.is_dir() && e.path().is_dir() {
            merge_dir(&e.path(), &t)?;
        } else {
            std::fs::rename(e.path(), t)?;
        }
    }
    Ok(())
}

fn tempdir_in(parent: &Path) -> Result<PathBuf> {
    let p = parent.join(format!(
        ".berth-cp-{:x}",
        std::process::id() as u64 * 7919
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as u64)
                .unwrap_or(0)
    ));
    std::fs::create_dir(&p)
        .map_err(|e| usage(format!("staging dir in {}: {e}", parent.display())))?;
    Ok(p)
}

async fn to_container(
    client: &Client,
    src: &str,
    c: &str,
    path: &str,
    keep_owners: bool,
    follow: bool,
) -> Result {
    let q = |p: &str| {
        format!(
            "/containers/{}/archive?path={}&copyUIDGID={}",
            enc(c),
            enc(p),
            keep_owners
        )
    };
    if src == "-" {
        client
            .call(
                Method::PUT,
                &q(path),
                reader_body(tokio::io::stdin()),
                Some("application/x-tar"),
            )
            .await?;
        return Ok(());
    }
    let src_path = PathBuf::from(src);
    if std::fs::symlink_metadata(&src_path).is_err() {
        return Err(usage(format!("could not find the file {src} on the host")));
    }
    // An existing directory receives the source under its own name; otherwise the
    // destination names the copy, inside its parent.
    let dest_is_dir = path.ends_with('/')
        || stat(client, c, path)
            .await
            .and_then(|s| s["mode"].as_u64())
            .is_some_and(|m| m & (1 << 31) != 0);
    let (dir, name) = if dest_is_dir {
        (
            path.to_string(),
            src_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into()),
        )
    } else {
        let p = Path::new(path);
        (
            p.parent()
                .map(|d| d.display().to_string())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "/".into()),
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    };
    let meta = if follow {
        std::fs::metadata(&src_path)
    } else {
        std::fs::symlink_metadata(&src_path)
    }
    .map_err(|e| usage(format!("{src}: {e}")))?;
    // The tar is written by a thread into a pipe and streamed as the request body.
    let (reader, writer) = big_pipe()?;
    let pack = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, writer));
        b.follow_symlinks(follow);
        if meta.is_dir() {
            b.append_dir_all(&name, &src_path)?;
        } else {
            b.append_path_with_name(&src_path, &name)?;
        }
        b.into_inner()?
            .into_inner()
            .map_err(|e| e.into_error())
            .map(drop)
    });
    let body = reader_body(tokio::fs::File::from_std(std::fs::File::from(
        std::os::fd::OwnedFd::from(reader),
    )));
    let sent = client
        .call(Method::PUT, &q(&dir), body, Some("application/x-tar"))
        .await;
    let packed = pack.await.map_err(|e| usage(e.to_string()))?;
    sent?;
    packed.map_err(|e| usage(format!("read {src}: {e}")))?;
    Ok(())
}
