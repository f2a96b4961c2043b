//! Resolving `User` ("name", "uid", "name:group", "uid:gid") against the
//! container's own /etc/passwd and /etc/group, as Docker does. The files are
//! read inside the container's root (a link to the host's /etc/shadow finds
//! nothing), only if they are regular files, and only so much of them.

use std::path::Path;

use berth_rootpath::RootDir;

use crate::error::{Result, RuntimeError};

/// More than any real passwd or group file; a bound on what a hostile one costs.
const MAX_FILE: u64 = 16 << 20;

/// One of the container's account files, as text; empty when it has none.
fn account_file(root: &RootDir, path: &str) -> Result<String> {
    let raw = root
        .read(path, MAX_FILE)
        .map_err(|e| RuntimeError::Invalid(format!("unable to read {path}: {e}")))?;
    Ok(String::from_utf8_lossy(&raw.unwrap_or_default()).into_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 6 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].into(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].into(),
            })
        })
        .collect()
}

/// (name, gid, members)
fn groups(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3).then(|| {
                let members = f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                Some((f[0].to_string(), f[2].parse().ok()?, members))
            })?
        })
        .collect()
}

pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let root = RootDir::open(rootfs)
        .map_err(|e| RuntimeError::Other(format!("open container root: {e}")))?;
    let users = passwd(&account_file(&root, "/etc/passwd")?);
    let (uid, mut gid, home, name) = if user.is_empty() {
        (0, 0, "/root".to_string(), Some("root".to_string()))
    } else if let Some(e) = users.iter().find(|e| e.name == user) {
        (e.uid, e.gid, e.home.clone(), Some(e.name.clone()))
    } else if let Ok(n) = user.parse::<u32>() {
        match users.iter().find(|e| e.uid == n) {
            Some(e) => (n, e.gid, e.home.clone(), Some(e.name.clone())),
            None => (n, 0, "/".to_string(), None),
        }
    } else {
        return Err(RuntimeError::Invalid(format!(
            "unable to find user {user}: no matching entries in passwd file"
        )));
    };
    let all_groups = groups(&account_file(&root, "/etc/group")?);
    if let Some(g) = group.filter(|g| !g.is_empty()) {
        gid = match all_groups.iter().find(|(n, _, _)| n == g) {
            Some((_, id, _)) => *id,
            None => g.parse().map_err(|_| {
                RuntimeError::Invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
    }
    // The primary group is a supplementary one too (`id` shows it in
    // `groups=`), as runc's lookup makes it for dockerd.
    let mut additional_gids = vec![gid];
    if let (Some(n), None) = (&name, group) {
        additional_gids.extend(
            all_groups
                .iter()
                .filter(|(_, id, m)| m.contains(n) && *id != gid)
                .map(|(_, id, _)| *id),
        );
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// `--group-add`: each a gid or a group name of the container's own
/// /etc/group, as runc resolves them (dockerd's error when a name is not there).
pub fn resolve_groups(rootfs: &Path, names: &[String]) -> Result<Vec<u32>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let root = RootDir::open(rootfs)
        .map_err(|e| RuntimeError::Other(format!("open container root: {e}")))?;
    let all = groups(&account_file(&root, "/etc/group")?);
    names
        .iter()
        .map(|g| match all.iter().find(|(n, _, _)| n == g) {
            Some((_, id, _)) => Ok(*id),
            None => g.parse().map_err(|_| {
                RuntimeError::Invalid(format!(
                    "Unable to find group {g}: no matching entries in group file"
                ))
            }),
        })
        .collect()
}

impl ResolvedUser {
    /// Adds supplementary groups, each once (the primary one is there already).
    pub fn add_groups(&mut self, gids: &[u32]) {
        for g in gids {
            if *g != self.gid && !self.additional_gids.contains(g) {
                self.additional_gids.push(*g);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\nweb:x:33:\nlog:x:4:web\n",
        )
        .unwrap();
        let r = resolve_user(d.path(), "web").unwrap();
        assert_eq!(
            (r.uid, r.gid, r.additional_gids.clone(), r.home.as_str()),
            (33, 33, vec![33, 4], "/var/www")
        );
        let numeric = resolve_user(d.path(), "1000:1000").unwrap();
        assert_eq!((numeric.uid, numeric.additional_gids), (1000, vec![1000]));
        assert_eq!(resolve_user(d.path(), "web:log").unwrap().gid, 4);
        assert_eq!(resolve_user(d.path(), "").unwrap().uid, 0);
        assert!(resolve_user(d.path(), "nobody").is_err());
        assert!(resolve_user(d.path(), "web:nogroup").is_err());
        let extra = resolve_groups(d.path(), &["log".into(), "4242".into(), "web".into()]).unwrap();
        assert_eq!(extra, vec![4, 4242, 33]);
        let mut r = resolve_user(d.path(), "web").unwrap();
        r.add_groups(&extra);
        assert_eq!(
            r.additional_gids,
            vec![33, 4, 4242],
            "the primary group is there once"
        );
        let missing = resolve_groups(d.path(), &["staff".into()])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("Unable to find group staff: no matching entries in group file"),
            "{missing}"
        );
    }
}
