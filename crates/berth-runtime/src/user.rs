//! Resolving `User` ("name", "uid", "name:group", "uid:gid") against the
//! container's own /etc/passwd and /etc/group, as Docker does.

use std::path::Path;

use crate::error::{Result, RuntimeError};

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

fn passwd(rootfs: &Path) -> Vec<PasswdEntry> {
    let text = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
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
fn groups(rootfs: &Path) -> Vec<(String, u32, Vec<String>)> {
    let text = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
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
    let users = passwd(rootfs);
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
    let all_groups = groups(rootfs);
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
    let additional_gids = match (&name, group) {
        (Some(n), None) => all_groups
            .iter()
            .filter(|(_, id, m)| m.contains(n) && *id != gid)
            .map(|(_, id, _)| *id)
            .collect(),
        _ => Vec::new(),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
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
            (33, 33, vec![4], "/var/www")
        );
        assert_eq!(resolve_user(d.path(), "1000:1000").unwrap().uid, 1000);
        assert_eq!(resolve_user(d.path(), "web:log").unwrap().gid, 4);
        assert_eq!(resolve_user(d.path(), "").unwrap().uid, 0);
        assert!(resolve_user(d.path(), "nobody").is_err());
        assert!(resolve_user(d.path(), "web:nogroup").is_err());
    }
}
