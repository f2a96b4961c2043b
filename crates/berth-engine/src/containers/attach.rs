//! The input side of attach and `resize`: stdin and terminal sizes go to the
//! supervisor's `attach.sock` (output comes from the log, see `logs.rs`).

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::exec::{check_size, resize_frame};
use crate::engine::Engine;
use crate::Result;

impl Engine {
    /// A sender for stdin frames of an attach. The container may not run yet
    /// (`docker run -i` attaches before it starts): input waits for it.
    /// `None` when the container was not created with `OpenStdin`.
    pub fn attach_input(self: &Arc<Self>, name: &str) -> Result<Option<mpsc::Sender<Vec<u8>>>> {
        let h = self.container(name)?;
        if !h.record().config.open_stdin {
            return Ok(None);
        }
        let id = h.id();
        let sock_path = self.paths(&id).attach_socket();
        let mut life = h.lifecycle.subscribe();
        let base = *life.borrow();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
        tokio::spawn(async move {
            // Wait for a run of the container to be under way.
            loop {
                let running = h.record().state.has_process();
                let l = *life.borrow_and_update();
                if l.removed || l.exits > base.exits {
                    return;
                }
                if running || l.starts > base.starts {
                    break;
                }
                if life.changed().await.is_err() {
                    return;
                }
            }
            let mut conn = None;
            for _ in 0..100 {
                if let Ok(c) = tokio::net::UnixStream::connect(&sock_path).await {
                    conn = Some(c);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let Some(mut conn) = conn else { return };
            while let Some(frame) = rx.recv().await {
                if conn.write_all(&frame).await.is_err() {
                    return;
                }
            }
        });
        Ok(Some(tx))
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize_container(&self, name: &str, h: i64, w: i64) -> Result<()> {
        let (rows, cols) = check_size(h, w)?;
        let c = self.container(name)?;
        let (id, running, tty) = {
            let r = c.record();
            (r.id.clone(), r.state.has_process(), r.config.tty)
        };
        if !running {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        if !tty {
            return Ok(());
        }
        let path = self.paths(&id).attach_socket();
        let mut conn = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| Error::caused_by("resize", e))?;
        conn.write_all(&resize_frame(rows, cols))
            .await
            .map_err(|e| Error::caused_by("resize", e))?;
        Ok(())
    }
}
