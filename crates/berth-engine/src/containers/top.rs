//! `GET /containers/{id}/top`: the host's `ps`, filtered to the container's
//! processes (found through its cgroup), as dockerd does it.

use std::process::Command;

use crate::Error;
use berth_api::types::ContainerTop;
use berth_runtime::cgroups::Cgroup;

use crate::engine::Engine;
use crate::Result;

/// Keeps the header and the rows whose PID column is one of `pids`.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<ContainerTop> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::internal("ps printed nothing"))?;
    let titles: Vec<String> = header.split_whitespace().map(String::from).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::bad_request("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) may contain spaces.
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(ContainerTop { titles, processes })
}

impl Engine {
    pub async fn top_container(&self, name: &str, ps_args: Option<&str>) -> Result<ContainerTop> {
        let h = self.container(name)?;
        let (id, running, restarting) = {
            let r = h.record();
            (r.id.clone(), r.state.running, r.state.restarting)
        };
        if !running {
            return Err(Error::conflict(format!("Container {id} is not running")));
        }
        if restarting {
            return Err(super::state::restarting(&id));
        }
        // A paused container's processes are listed too, as dockerd lists them.
        let args: Vec<String> = ps_args
            .unwrap_or("-ef")
            .split_whitespace()
            .map(String::from)
            .collect();
        let pids = Cgroup::new(&self.cgroups_path(&id)).pids();
        crate::blocking(move || {
            let out = Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::caused_by("run ps", e))?;
            if !out.status.success() {
                return Err(Error::internal(format!(
                    "ps: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_rows() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 100\n";
        let t = filter_ps(out, &[42]).unwrap();
        assert_eq!(
            t.processes,
            vec![vec![
                "root",
                "42",
                "1",
                "0",
                "10:00",
                "?",
                "00:00:00",
                "sleep 100"
            ]]
        );
        assert!(filter_ps("USER COMMAND\nx y\n", &[1]).is_err());
    }
}
