//! `berth pull` and `berth push`: Docker's progress, a line per layer as it changes.

use berth_client::{enc, Client};
use clap::Args;
use hyper::Method;

use crate::Result;

#[derive(Args, Debug)]
pub struct PullArgs {
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

/// Reads a JSON-lines progress stream, printing `id: status` lines unless
/// quiet (on stderr when stdout is for something else); the stream's error
/// line becomes the command's error.
async fn follow(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
    on_stderr: bool,
) -> Result {
    crate::output::json_lines(resp, |v| {
        if let Some(e) = v["error"].as_str() {
            return Err(berth_client::ClientError::Api {
                status: 500,
                message: e.to_string(),
            }
            .into());
        }
        let text = match (v["id"].as_str(), v["status"].as_str()) {
            (_, None) => return Ok(()),
            _ if quiet => return Ok(()),
            (Some(id), Some(s)) => format!("{id}: {s}"),
            (None, Some(s)) => s.to_string(),
        };
        if on_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
        Ok(())
    })
    .await
}

pub async fn pull(client: &Client, a: &PullArgs) -> Result {
    pull_image(client, &a.image, a.platform.as_deref(), a.quiet, false).await?;
    if a.quiet {
        println!("{}", a.image);
    }
    Ok(())
}

/// The pull itself; `run` and `create` show its progress on stderr.
pub async fn pull_image(
    client: &Client,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
    on_stderr: bool,
) -> Result {
    let mut q = format!("/images/create?fromImage={}", enc(image));
    if let Some(p) = platform {
        q.push_str(&format!("&platform={}", enc(p)));
    }
    let resp = client
        .call(Method::POST, &q, berth_client::empty_body(), None)
        .await?;
    follow(resp, quiet, on_stderr).await
}

pub async fn push(client: &Client, a: &PushArgs) -> Result {
    let resp = client
        .call(
            Method::POST,
            &format!("/images/{}/push", a.image),
            berth_client::empty_body(),
            None,
        )
        .await?;
    follow(resp, a.quiet, false).await
}
