//! `run` and `create`: docker's flags turned into a create request; `run`
//! then attaches, registers its wait, starts, and exits with the container's code.

mod flags;
mod session;

use std::collections::BTreeMap;

use berth_api::types::{
    ContainerCreateBody, ContainerCreateResponse, HostConfig, LogConfig, RestartPolicy,
};
use berth_api::units::ram_in_bytes;
use berth_client::{demux::Demuxer, enc, read_json, Client, ClientError};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{CliError, Result};

pub use flags::*;
pub use session::*;

pub async fn create(client: &Client, a: &CreateArgs) -> Result<String> {
    let reference = crate::distribution::check_reference(&a.image)?;
    match a.pull.as_str() {
        "always" => pull_for_create(client, a).await?,
        "missing" | "never" => {}
        other => {
            return Err(CliError::Usage(format!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        )))
        }
    }
    match create_once(client, a).await {
        Err(CliError::Client(ClientError::Api {
            status: 404,
            message,
        })) if message.starts_with("No such image") && a.pull == "missing" => {
            eprintln!(
                "Unable to find image '{}' locally",
                crate::distribution::familiar(&reference)
            );
            pull_for_create(client, a).await?;
            create_once(client, a).await
        }
        other => other,
    }
}

/// Docker prints the pull's progress on stderr for run and create: stdout is for the ID.
async fn pull_for_create(client: &Client, a: &CreateArgs) -> Result {
    crate::distribution::pull_image(client, &a.image, None).await
}

async fn create_once(client: &Client, a: &CreateArgs) -> Result<String> {
    let body = create_body(a)?;
    let q = a
        .name
        .as_deref()
        .map(|n| format!("?name={}", enc(n)))
        .unwrap_or_default();
    match client
        .post_json::<ContainerCreateResponse>(&format!("/containers/create{q}"), &body)
        .await
    {
        Ok(r) => {
            for w in r.warnings {
                eprintln!("WARNING: {w}");
            }
            Ok(r.id)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn run(client: &Client, a: CreateArgs, detach: bool, sig_proxy: bool) -> Result {
    if detach && !a.attach.is_empty() {
        return Err(CliError::Plain(
            "conflicting options: cannot specify both --attach and --detach".into(),
        ));
    }
    if a.interactive && a.tty && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CliError::Plain("the input device is not a TTY".into()));
    }
    let id = create(client, &a).await?;
    if detach {
        client.post(&format!("/containers/{id}/start")).await?;
        println!("{id}");
        return Ok(());
    }
    let wants = |s: &str| a.attach.is_empty() || a.attach.iter().any(|x| x == s);
    let stdin = a.interactive || a.attach.iter().any(|x| x == "stdin");
    let attach = client
        .hijack(&format!(
            "/containers/{id}/attach?stream=1&stdout={}&stderr={}&stdin={}",
            wants("stdout") as u8,
            wants("stderr") as u8,
            stdin as u8
        ))
        .await?;
    let condition = if a.rm { "removed" } else { "next-exit" };
    // The wait is registered once its headers arrive, before the container starts.
    let wait = client
        .call(
            Method::POST,
            &format!("/containers/{id}/wait?condition={condition}"),
            berth_client::empty_body(),
            None,
        )
        .await?;
    client.post(&format!("/containers/{id}/start")).await?;
    let session = Session {
        tty: a.tty,
        stdin,
        resize: Some(format!("/containers/{id}/resize")),
        proxy_signals: (sig_proxy && !a.tty).then(|| id.clone()),
        detach_keys: detach_keys(None)?,
    };
    if session.interact(client, attach).await? {
        return Ok(());
    }
    let status: berth_api::types::ContainerWaitResponse = read_json(wait).await?;
    if status.status_code != 0 {
        return Err(CliError::Exit(status.status_code as i32));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_key_specs() {
        assert_eq!(detach_keys(None).unwrap(), vec![16, 17]);
        assert_eq!(detach_keys(Some("ctrl-a,x")).unwrap(), vec![1, b'x']);
        assert!(detach_keys(Some("ctrl-")).is_err());
    }
}
