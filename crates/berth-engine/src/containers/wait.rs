//! `POST /containers/{id}/wait` with conditions `not-running` (default),
//! `next-exit` and `removed`. The subscription is taken before this returns,
//! so a client that waits and then starts the container never misses the exit.

use std::future::Future;

use crate::Error;

use crate::engine::Engine;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

impl WaitCondition {
    pub fn parse(s: Option<&str>) -> Result<WaitCondition> {
        match s.unwrap_or("") {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(Error::bad_request(format!(
                "invalid condition: \"{other}\""
            ))),
        }
    }
}

impl Engine {
    /// Returns a future that resolves to the exit code once the condition holds.
    pub fn wait_container(
        &self,
        name: &str,
        condition: WaitCondition,
    ) -> Result<impl Future<Output = i64> + Send + 'static> {
        let h = self.container(name)?;
        let mut rx = h.lifecycle.subscribe();
        let now = *rx.borrow();
        let running = h.record().state.running;
        let last = h.record().state.exit_code;
        Ok(async move {
            match condition {
                WaitCondition::NotRunning if !running => last,
                WaitCondition::NotRunning | WaitCondition::NextExit => {
                    match rx.wait_for(|l| l.exits > now.exits || l.removed).await {
                        Ok(l) => l.exit_code,
                        Err(_) => last,
                    }
                }
                WaitCondition::Removed => {
                    let code = rx.wait_for(|l| l.removed).await.map(|l| l.exit_code).ok();
                    // An error means the handle was dropped: the container is gone.
                    code.unwrap_or_else(|| rx.borrow().exit_code)
                }
            }
        })
    }
}
