//! Images as users see them: list with filters, inspect, history, tag, rmi,
//! prune, import, load and save, over `berth-store`.

use std::io::{Read, Write};
use std::sync::Arc;

use crate::Error;
use berth_api::filters::Filters;
use berth_api::types::{
    GraphDriver, ImageDeleteItem, ImageHistoryItem, ImageInspect, ImagePruneReport, ImageRootFs,
    ImageRuntimeConfig, ImageSummary,
};
use berth_api::ImageRef;
use berth_store::ImageRecord;

use crate::engine::Engine;
use crate::Result;

/// `path.Match`-style globbing (`*`, `?`) used by the `reference` filter.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    fn m(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && m(p, &s[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), s.as_bytes())
}

fn tag_matches(pattern: &str, tag: &str) -> bool {
    ImageRef::parse(tag).is_ok_and(|r| {
        glob_match(pattern, &r.familiar())
            || glob_match(pattern, &r.familiar_repository())
            || glob_match(pattern, &r.canonical())
    })
}

fn reference_matches(pattern: &str, rec: &ImageRecord) -> bool {
    rec.tags.iter().any(|t| tag_matches(pattern, t))
}

impl Engine {
    /// RepoDigests as docker shows them: `busybox@sha256:…`.
    fn familiar_repo_digests(&self, id: &berth_store::Digest) -> Vec<String> {
        self.images
            .repo_digests(id)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                ImageRef::parse(r)
                    .map(|p| p.familiar())
                    .unwrap_or_else(|_| r.clone())
            })
            .collect()
    }

    fn summary_of(&self, rec: &ImageRecord, containers: i64, shared: bool) -> ImageSummary {
        let mut repo_tags = rec.familiar_tags();
        if repo_tags.is_empty() {
            repo_tags = vec![];
        }
        ImageSummary {
            id: rec.id.to_string(),
            parent_id: self
                .images
                .parent_of(rec.id.as_str())
                .ok()
                .flatten()
                .unwrap_or_default(),
            repo_tags,
            repo_digests: self.familiar_repo_digests(&rec.id),
            created: rec.created,
            size: rec.size,
            shared_size: if shared {
                self.images.shared_size(rec).unwrap_or(-1)
            } else {
                -1
            },
            labels: rec.labels(),
            containers,
        }
    }

    fn containers_using(&self, image_id: &str) -> i64 {
        self.all_containers()
            .iter()
            .filter(|h| h.record().image_id == image_id)
            .count() as i64
    }

    pub fn list_images(
        &self,
        all: bool,
        filters: &Filters,
        shared_size: bool,
    ) -> Result<Vec<ImageSummary>> {
        filters.only(&["dangling", "reference", "label", "before", "since", "until"])?;
        let dangling = match filters.get("dangling").first().map(String::as_str) {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(v) => return Err(Error::bad_request(format!("invalid filter 'dangling={v}'"))),
        };
        let created_of = |name: &str| {
            self.images
                .resolve(name)
                .map(|r| r.created)
                .map_err(Error::from)
        };
        let before = filters
            .get("before")
            .first()
            .map(|b| created_of(b))
            .transpose()?;
        let since = filters
            .get("since")
            .first()
            .map(|b| created_of(b))
            .transpose()?;
        let until = filters
            .get("until")
            .first()
            .map(|u| crate::containers::prune::parse_until(u))
            .transpose()?;
        let mut out = Vec::new();
        for rec in self.images.list().map_err(Error::from)? {
            // Build steps' images show only with -a, as docker's intermediate images do.
            if !all && self.images.is_intermediate(&rec).map_err(Error::from)? {
                continue;
            }
            if dangling.is_some_and(|d| d != rec.tags.is_empty()) {
                continue;
            }
            if filters.has("reference")
                && !filters
                    .get("reference")
                    .iter()
                    .any(|p| reference_matches(p, &rec))
            {
                continue;
            }
            if !filters.labels_match("label", &rec.labels()) {
                continue;
            }
            if before.is_some_and(|b| rec.created >= b)
                || since.is_some_and(|s| rec.created <= s)
                || until.is_some_and(|u| rec.created >= u)
            {
                continue;
            }
            let mut summary =
                self.summary_of(&rec, self.containers_using(rec.id.as_str()), shared_size);
            // As dockerd: with a reference filter, RepoTags holds the matching tags only.
            if filters.has("reference") {
                summary
                    .repo_tags
                    .retain(|t| filters.get("reference").iter().any(|p| tag_matches(p, t)));
            }
            out.push(summary);
        }
        Ok(out)
    }

    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let rec = self.images.resolve(name).map_err(Error::from)?;
        let c = &rec.config;
        let lowers = self.images.lower_dirs(&rec).map_err(Error::from)?;
        Ok(ImageInspect {
            id: rec.id.to_string(),
            repo_tags: rec.familiar_tags(),
            repo_digests: self.familiar_repo_digests(&rec.id),
            parent: self
                .images
                .parent_of(rec.id.as_str())
                .map_err(Error::from)?
                .unwrap_or_default(),
            comment: c
                .history
                .last()
                .and_then(|h| h.comment.clone())
                .unwrap_or_default(),
            created: c.created.clone().unwrap_or_default(),
            docker_version: String::new(),
            author: c.author.clone().unwrap_or_default(),
            config: full_config(&c.config),
            architecture: c.architecture.clone(),
            variant: c.variant.clone(),
            os: c.os.clone(),
            size: rec.size,
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: [(
                    "LowerDir".to_string(),
                    lowers
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(":"),
                )]
                .into(),
            },
            root_fs: ImageRootFs {
                kind: "layers".into(),
                layers: c.rootfs.diff_ids.clone(),
            },
            metadata: [(
                "LastTagTime".to_string(),
                serde_json::json!("0001-01-01T00:00:00Z"),
            )]
            .into(),
        })
    }

    pub fn image_history(&self, name: &str) -> Result<Vec<ImageHistoryItem>> {
        let rec = self.images.resolve(name).map_err(Error::from)?;
        let steps = self.images.history(&rec).map_err(Error::from)?;
        // Each build step added one history entry and left its image behind:
        // walking the parents names the newest entries, as docker's legacy builder shows them.
        let mut chain = vec![rec.clone()];
        while chain.len() < steps.len() {
            let last = chain.last().map(|r| r.id.to_string()).unwrap_or_default();
            match self.images.parent_of(&last).map_err(Error::from)? {
                Some(p) => match self.images.resolve(&p) {
                    Ok(r) => chain.push(r),
                    Err(_) => break,
                },
                None => break,
            }
        }
        Ok(steps
            .into_iter()
            .enumerate()
            .map(|(i, (h, size))| ImageHistoryItem {
                id: chain
                    .get(i)
                    .map(|r| r.id.to_string())
                    .unwrap_or_else(|| "<missing>".into()),
                created: h
                    .created
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0),
                created_by: h.created_by.unwrap_or_default(),
                tags: chain.get(i).map(|r| r.familiar_tags()).unwrap_or_default(),
                size: size.unwrap_or(0),
                comment: h.comment.unwrap_or_default(),
            })
            .collect())
    }

    pub fn tag_image(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let target = match tag.filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        let r = ImageRef::parse(&target)?;
        self.images.tag(name, &r).map_err(Error::from)?;
        let id = self
            .images
            .resolve(&r.canonical())
            .map(|i| i.id.to_string())
            .unwrap_or_default();
        self.image_event(&id, &r.familiar(), "tag");
        Ok(())
    }

    pub async fn remove_image(
        self: &Arc<Self>,
        name: &str,
        force: bool,
    ) -> Result<Vec<ImageDeleteItem>> {
        let engine = self.clone();
        let name = name.to_string();
        let id = self
            .images
            .resolve(&name)
            .map(|i| i.id.to_string())
            .unwrap_or_default();
        let items = crate::blocking(move || {
            let users = |id: &str| engine.image_user(id);
            engine
                .images
                .remove(&name, force, &users)
                .map_err(Error::from)
        })
        .await?;
        for i in &items {
            match (&i.untagged, &i.deleted) {
                (Some(u), _) => self.image_event(&id, u, "untag"),
                (_, Some(d)) => self.image_event(d, d, "delete"),
                _ => {}
            }
        }
        Ok(items)
    }

    pub async fn prune_images(self: &Arc<Self>, filters: Filters) -> Result<ImagePruneReport> {
        filters.only(&["dangling", "until", "label", "label!"])?;
        let all = match filters.get("dangling").first().map(String::as_str) {
            None | Some("true" | "1") => false,
            Some("false" | "0") => true,
            Some(v) => return Err(Error::bad_request(format!("invalid filter 'dangling={v}'"))),
        };
        let until = filters
            .get("until")
            .first()
            .map(|u| crate::containers::prune::parse_until(u))
            .transpose()?;
        let engine = self.clone();
        crate::blocking(move || {
            let users = |id: &str| engine.image_user(id);
            let keep = |rec: &ImageRecord| {
                filters.labels_match("label", &rec.labels())
                    && until.is_none_or(|u| rec.created < u)
            };
            let (deleted, reclaimed) = engine
                .images
                .prune(all, &keep, &users)
                .map_err(Error::from)?;
            Ok(ImagePruneReport {
                images_deleted: deleted,
                space_reclaimed: reclaimed,
            })
        })
        .await
    }

    /// `docker import`: returns the new image's ID.
    pub async fn import_image(
        self: &Arc<Self>,
        rootfs: impl Read + Send + 'static,
        repo: Option<String>,
        tag: Option<String>,
        changes: Vec<String>,
        message: String,
    ) -> Result<String> {
        let target = match repo.filter(|r| !r.is_empty()) {
            Some(r) => Some(ImageRef::parse(&match tag.filter(|t| !t.is_empty()) {
                Some(t) => format!("{r}:{t}"),
                None => r,
            })?),
            None => None,
        };
        let mut config = ImageRuntimeConfig::default();
        berth_build::config::apply_changes(&mut config, &changes)
            .map_err(|e| Error::bad_request(e.to_string()))?;
        let images = self.images.clone();
        let id = crate::blocking(move || {
            let rec = images
                .import(rootfs, config, &message, target.as_ref())
                .map_err(Error::from)?;
            Ok(rec.id.to_string())
        })
        .await?;
        self.image_event(&id, &id, "import");
        Ok(id)
    }

    pub async fn load_images(
        self: &Arc<Self>,
        archive: impl Read + Send + 'static,
    ) -> Result<Vec<String>> {
        let images = self.images.clone();
        let messages = crate::blocking(move || images.load(archive).map_err(Error::from)).await?;
        for m in &messages {
            let name = m.rsplit(": ").next().unwrap_or_default();
            let id = self
                .images
                .resolve(name)
                .map(|i| i.id.to_string())
                .unwrap_or_default();
            self.image_event(&id, name, "load");
        }
        Ok(messages)
    }

    /// Checks the names first (so a bad name is a 404 before any byte is sent).
    pub fn check_images(&self, names: &[String]) -> Result<()> {
        for n in names {
            self.images.resolve(n).map_err(Error::from)?;
        }
        Ok(())
    }

    pub async fn save_images(
        self: &Arc<Self>,
        names: Vec<String>,
        out: impl Write + Send + 'static,
    ) -> Result<()> {
        let images = self.images.clone();
        crate::blocking(move || images.save(&names, out).map_err(Error::from)).await
    }
}

/// An image's runtime config as dockerd's inspect shows it: every key of a
/// container config, the unset ones empty or null (the stored config file,
/// whose digest is the image ID, keeps only what is set).
fn full_config(c: &berth_api::types::ImageRuntimeConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_else(|_| serde_json::json!({}));
    let defaults = serde_json::json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    if let (Some(out), Some(d)) = (v.as_object_mut(), defaults.as_object()) {
        for (k, dv) in d {
            out.entry(k.clone()).or_insert_with(|| dv.clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("busy*", "busybox:latest"));
        assert!(glob_match("*:1.?", "app:1.2"));
        assert!(!glob_match("busy*", "alpine"));
        assert!(!glob_match("*", "a/b"));
    }
}
