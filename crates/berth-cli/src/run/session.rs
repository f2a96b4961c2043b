//! An attached container's or exec's streams: the terminal, stdin, the
//! output (multiplexed or raw) and the detach keys.

use super::*;

/// An attached stream (container attach or exec) wired to our terminal.
pub struct Session {
    pub tty: bool,
    pub stdin: bool,
    /// Where to send terminal sizes, with a TTY.
    pub resize: Option<String>,
    /// Forward SIGINT/SIGTERM to this container (`--sig-proxy`).
    pub proxy_signals: Option<String>,
    /// The detach sequence (default Ctrl-P Ctrl-Q).
    pub detach_keys: Vec<u8>,
}

impl Session {
    /// Returns true when the user detached (the container runs on).
    pub async fn interact(
        self,
        client: &Client,
        upgraded: hyper::upgrade::Upgraded,
    ) -> Result<bool> {
        let raw = if self.tty && self.stdin {
            crate::tty::RawMode::enter()
        } else {
            None
        };
        let (reader, mut writer) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
        let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
        let keys = self.detach_keys.clone();
        let input = if self.stdin {
            Some(tokio::spawn(async move {
                let mut stdin = tokio::io::stdin();
                let mut buf = vec![0u8; 32 * 1024];
                let mut escape = berth_api::detach::Escape::new(keys);
                loop {
                    let n = match stdin.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let (pass, detach) = escape.feed(&buf[..n]);
                    if !pass.is_empty() && writer.write_all(&pass).await.is_err() {
                        return;
                    }
                    if detach {
                        let _ = detached_tx.send(());
                        return;
                    }
                }
                let _ = writer.shutdown().await;
            }))
        } else {
            let _ = writer.shutdown().await;
            None
        };
        let mut side_tasks = Vec::new();
        if let (true, Some(path)) = (self.tty, self.resize.clone()) {
            let c = client.clone();
            side_tasks.push(tokio::spawn(async move {
                let send = |c: Client, path: String| async move {
                    if let Some((rows, cols)) = crate::tty::size() {
                        let _ = c.post(&format!("{path}?h={rows}&w={cols}")).await;
                    }
                };
                send(c.clone(), path.clone()).await;
                let Ok(mut winch) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
                else {
                    return;
                };
                while winch.recv().await.is_some() {
                    send(c.clone(), path.clone()).await;
                }
            }));
        }
        if let Some(id) = self.proxy_signals.clone() {
            let c = client.clone();
            side_tasks.push(tokio::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                loop {
                    let sig = tokio::select! {
                        _ = int.recv() => "SIGINT",
                        _ = term.recv() => "SIGTERM",
                    };
                    let _ = c.post(&format!("/containers/{id}/kill?signal={sig}")).await;
                }
            }));
        }
        let output = async {
            if self.tty {
                copy_raw(reader).await
            } else {
                pump_output(reader).await
            }
        };
        let (result, detached) = tokio::select! {
            r = output => (r, false),
            Ok(()) = &mut detached_rx => (Ok(()), true),
        };
        for t in side_tasks {
            t.abort();
        }
        if let Some(i) = input {
            i.abort();
        }
        drop(raw);
        result.map(|()| detached)
    }
}

/// `ctrl-p,ctrl-q` -> [0x10, 0x11].
pub fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>> {
    match spec {
        None => Ok(berth_api::detach::DEFAULT.to_vec()),
        Some("") => Ok(vec![]),
        Some(k) => berth_api::detach::parse(k)
            .map_err(|e| CliError::Usage(format!("invalid detach keys: {k:?}: {e}"))),
    }
}

pub(super) async fn copy_raw(mut reader: impl tokio::io::AsyncRead + Unpin) -> Result {
    let mut stdout = tokio::io::stdout();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stdout.write_all(&buf[..n]).await?;
        stdout.flush().await?;
    }
}

/// Reads a streamed response body to our stdout/stderr (logs).
pub async fn pump_body(resp: hyper::Response<hyper::body::Incoming>, tty: bool) -> Result {
    let mut body = resp.into_body();
    let mut d = Demuxer::default();
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| CliError::Usage(format!("stream: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if tty {
            stdout.write_all(&data).await?;
            continue;
        }
        d.push(&data);
        while let Some((s, payload)) = d.next_frame() {
            if s == 2 {
                stderr.write_all(&payload).await?;
            } else {
                stdout.write_all(&payload).await?;
            }
        }
        stdout.flush().await?;
        stderr.flush().await?;
    }
    Ok(())
}

/// Copies a container's multiplexed output to our stdout and stderr.
pub async fn pump_output(mut stream: impl tokio::io::AsyncRead + Unpin) -> Result {
    let mut d = Demuxer::default();
    let mut buf = vec![0u8; 32 * 1024];
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        d.push(&buf[..n]);
        while let Some((s, payload)) = d.next_frame() {
            if s == 2 {
                stderr.write_all(&payload).await?;
                stderr.flush().await?;
            } else {
                stdout.write_all(&payload).await?;
                stdout.flush().await?;
            }
        }
    }
}
