//! User-namespace remapping (daemon.json `userns-remap`): container root is
//! an unprivileged host user, with the subordinate ID ranges of `/etc/subuid`
//! and `/etc/subgid`, as dockerd does. Also the one user namespace the daemon
//! keeps with that mapping, whose descriptor makes idmapped mounts of image
//! layers (berth-store's `overlay::mount_overlay_idmapped`), so that they are
//! used as they are, not copied and chowned.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};

use crate::error::{Result, RuntimeError};

/// The user dockerd makes for `"userns-remap": "default"`.
pub const DEFAULT_USER: &str = "dockremap";
/// The size of the range given to a user made here: a full 16-bit ID space.
const DEFAULT_RANGE: u32 = 65536;

/// Container IDs `container..container+size` are host IDs `host..host+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remap {
    /// The user the ranges belong to (`dockremap`, or the one named).
    pub user: String,
    pub group: String,
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

fn invalid(msg: String) -> RuntimeError {
    RuntimeError::Invalid(msg)
}

/// `name:start:count` lines for `name` (or its numeric ID), in file order,
/// laid end to end in the container's ID space as dockerd does.
pub fn ranges(text: &str, name: &str, id: Option<u32>) -> Vec<IdRange> {
    let mut next = 0u32;
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(':').collect();
        let [who, start, count] = f.as_slice() else {
            continue;
        };
        if *who != name && id.is_none_or(|i| who.parse::<u32>() != Ok(i)) {
            continue;
        }
        let (Ok(host), Ok(size)) = (start.parse::<u32>(), count.parse::<u32>()) else {
            continue;
        };
        if size == 0 || host.checked_add(size).is_none() {
            continue;
        }
        let Some(end) = next.checked_add(size) else {
            break;
        };
        out.push(IdRange {
            container: next,
            host,
            size,
        });
        next = end;
    }
    out
}

fn map(ranges: &[IdRange], id: u32, to_host: bool) -> Option<u32> {
    ranges.iter().find_map(|r| {
        let (from, to) = if to_host {
            (r.container, r.host)
        } else {
            (r.host, r.container)
        };
        (id >= from && id - from < r.size).then(|| to + (id - from))
    })
}

impl Remap {
    /// Reads `userns-remap`'s value: `default` (the `dockremap` user, made
    /// with its ranges when missing), `user`, `user:group`, numbers too.
    pub fn load(setting: &str) -> Result<Remap> {
        let (user, group) = match setting.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (setting, None),
        };
        if user.is_empty() {
            return Err(invalid("userns-remap: no user named".into()));
        }
        if user == "default" {
            ensure_default_user()?;
        }
        let user = if user == "default" {
            DEFAULT_USER
        } else {
            user
        };
        let (uname, uid, primary) = lookup_user(user)?;
        let (gname, gid) = match group {
            Some(g) => lookup_group(g)?,
            // The user's own group, as dockerd takes it.
            None => lookup_group(&primary.to_string())?,
        };
        let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
        let uids = ranges(&read("/etc/subuid"), &uname, Some(uid));
        let gids = ranges(&read("/etc/subgid"), &gname, Some(gid));
        if uids.is_empty() {
            return Err(invalid(format!(
                "userns-remap: no subordinate user IDs for {uname:?} in /etc/subuid"
            )));
        }
        if gids.is_empty() {
            return Err(invalid(format!(
                "userns-remap: no subordinate group IDs for {gname:?} in /etc/subgid"
            )));
        }
        Ok(Remap {
            user: uname,
            group: gname,
            uids,
            gids,
        })
    }

    /// The host IDs of the container's root.
    pub fn root(&self) -> (u32, u32) {
        (self.uids[0].host, self.gids[0].host)
    }

    pub fn host_uid(&self, id: u32) -> Option<u32> {
        map(&self.uids, id, true)
    }

    pub fn host_gid(&self, id: u32) -> Option<u32> {
        map(&self.gids, id, true)
    }

    pub fn container_uid(&self, id: u32) -> Option<u32> {
        map(&self.uids, id, false)
    }

    pub fn container_gid(&self, id: u32) -> Option<u32> {
        map(&self.gids, id, false)
    }

    /// `linux.uidMappings` and `linux.gidMappings`.
    pub fn oci_mappings(&self) -> Result<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)> {
        let m = |r: &[IdRange]| {
            r.iter()
                .map(|r| {
                    LinuxIdMappingBuilder::default()
                        .container_id(r.container)
                        .host_id(r.host)
                        .size(r.size)
                        .build()
                        .map_err(|e| RuntimeError::Other(format!("id mapping: {e}")))
                })
                .collect::<Result<Vec<_>>>()
        };
        Ok((m(&self.uids)?, m(&self.gids)?))
    }

    fn map_text(ranges: &[IdRange]) -> String {
        ranges
            .iter()
            .map(|r| format!("{} {} {}\n", r.container, r.host, r.size))
            .collect()
    }

    /// A user namespace with this mapping, held by its descriptor: a child
    /// (`helper hold`, which waits for its stdin to close) unshares one, its
    /// maps are written, and the child ends. The namespace lives on as long
    /// as the descriptor does.
    pub fn namespace(&self, helper: &Path) -> Result<OwnedFd> {
        let mut cmd = Command::new(helper);
        cmd.arg("hold")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: unshare is async-signal-safe; the child is single-threaded here.
        unsafe {
            cmd.pre_exec(|| {
                if libc::unshare(libc::CLONE_NEWUSER) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(RuntimeError::io("start a user namespace"))?;
        let pid = child.id();
        let result = (|| {
            fs::write(format!("/proc/{pid}/uid_map"), Self::map_text(&self.uids))
                .map_err(RuntimeError::io("write uid_map"))?;
            fs::write(format!("/proc/{pid}/gid_map"), Self::map_text(&self.gids))
                .map_err(RuntimeError::io("write gid_map"))?;
            let f = fs::File::open(format!("/proc/{pid}/ns/user"))
                .map_err(RuntimeError::io("open the user namespace"))?;
            Ok(OwnedFd::from(f))
        })();
        drop(child.stdin.take());
        let _ = child.wait();
        result
    }
}

/// The `hold` helper: waits for stdin to close (see `Remap::namespace`).
pub fn hold() -> i32 {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    0
}

fn lookup_user(u: &str) -> Result<(String, u32, u32)> {
    let found = match u.parse::<u32>() {
        Ok(id) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(id)),
        Err(_) => nix::unistd::User::from_name(u),
    };
    match found {
        Ok(Some(user)) => Ok((user.name, user.uid.as_raw(), user.gid.as_raw())),
        _ => Err(invalid(format!("userns-remap: no such user {u:?}"))),
    }
}

fn lookup_group(g: &str) -> Result<(String, u32)> {
    let found = match g.parse::<u32>() {
        Ok(id) => nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(id)),
        Err(_) => nix::unistd::Group::from_name(g),
    };
    match found {
        Ok(Some(group)) => Ok((group.name, group.gid.as_raw())),
        _ => Err(invalid(format!("userns-remap: no such group {g:?}"))),
    }
}

/// `dockremap` with a range in /etc/subuid and /etc/subgid, as dockerd makes
/// it: a system user without a home or shell, and 65536 IDs past every range
/// already given out (from 100000).
fn ensure_default_user() -> Result<()> {
    if !matches!(nix::unistd::User::from_name(DEFAULT_USER), Ok(Some(_))) {
        let out = Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/bin/false",
                DEFAULT_USER,
            ])
            .output()
            .map_err(RuntimeError::io("run useradd"))?;
        if !out.status.success() {
            return Err(RuntimeError::Other(format!(
                "useradd {DEFAULT_USER}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = fs::read_to_string(file).unwrap_or_default();
        if !ranges(&text, DEFAULT_USER, None).is_empty() {
            continue;
        }
        let start = text
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
            })
            .max()
            .unwrap_or(0)
            .max(100_000);
        let mut new = text.clone();
        if !new.is_empty() && !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str(&format!("{DEFAULT_USER}:{start}:{DEFAULT_RANGE}\n"));
        let tmp = format!("{file}.berth-tmp");
        fs::write(&tmp, new)
            .and_then(|_| fs::rename(&tmp, file))
            .map_err(RuntimeError::io(format!("add {DEFAULT_USER} to {file}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lay_end_to_end() {
        let text = "other:100000:65536\ndockremap:165536:65536\n1000:300000:10\ndockremap:500000:100\nbad\ndockremap:x:1\ndockremap:4294967295:2\n";
        let r = ranges(text, "dockremap", None);
        assert_eq!(
            r,
            [
                IdRange {
                    container: 0,
                    host: 165536,
                    size: 65536
                },
                IdRange {
                    container: 65536,
                    host: 500000,
                    size: 100
                },
            ]
        );
        let remap = Remap {
            user: "dockremap".into(),
            group: "dockremap".into(),
            uids: r.clone(),
            gids: r,
        };
        assert_eq!(remap.root(), (165536, 165536));
        assert_eq!(remap.host_uid(65537), Some(500001));
        assert_eq!(remap.host_uid(65636), None);
        assert_eq!(remap.container_uid(165537), Some(1));
        assert_eq!(remap.container_uid(0), None);
        // Numeric owners count too.
        assert_eq!(ranges(text, "alice", Some(1000)).len(), 1);
        let (u, _) = remap.oci_mappings().unwrap();
        assert_eq!(
            serde_json::to_value(u[1]).unwrap(),
            serde_json::json!({"containerID": 65536, "hostID": 500000, "size": 100})
        );
    }
}
