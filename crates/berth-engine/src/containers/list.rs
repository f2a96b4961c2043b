//! `GET /containers/json` with docker's filters and status strings.

use crate::Error;
use berth_api::filters::Filters;
use berth_api::types::ContainerSummary;
use serde_json::json;

use super::record::ContainerRecord;
use crate::engine::Engine;
use crate::Result;

pub(crate) fn created_unix(r: &ContainerRecord) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&r.created)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

pub struct ListOptions {
    pub all: bool,
    pub limit: Option<usize>,
    pub size: bool,
    pub filters: Filters,
}

impl Engine {
    pub fn summary(&self, r: &ContainerRecord, size: bool) -> ContainerSummary {
        let (size_rw, size_root) = if size {
            let rw = berth_store::layer::tree_size(&self.paths(&r.id).upper()) as i64;
            let img = self
                .images
                .resolve(&r.image_id)
                .map(|i| i.size)
                .unwrap_or(0);
            (Some(rw), Some(rw + img))
        } else {
            (None, None)
        };
        ContainerSummary {
            id: r.id.clone(),
            names: vec![r.name.clone()],
            image: r.config.image.clone(),
            image_id: r.image_id.clone(),
            command: std::iter::once(r.path.as_str())
                .chain(r.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            created: created_unix(r),
            ports: crate::networks::summary_ports(r),
            size_rw,
            size_root_fs: size_root,
            labels: r.config.labels.clone().unwrap_or_default(),
            state: r.state.status().into(),
            status: r.state.status_text(),
            host_config: [(
                "NetworkMode".to_string(),
                r.host_config.network_mode.clone(),
            )]
            .into(),
            network_settings: json!({ "Networks": r.networks }),
            mounts: super::mounts::to_json(&r.mounts),
        }
    }

    pub fn list_containers(&self, opts: &ListOptions) -> Result<Vec<ContainerSummary>> {
        let f = &opts.filters;
        f.only(&[
            "status",
            "label",
            "name",
            "id",
            "ancestor",
            "exited",
            "before",
            "since",
            "health",
            "network",
            "volume",
            "publish",
            "expose",
            "isolation",
            "is-task",
        ])?;
        for h in f.get("health") {
            if !["starting", "healthy", "unhealthy", "none"].contains(&h.as_str()) {
                return Err(Error::bad_request(format!(
                    "Unrecognised filter value for health: {h}"
                )));
            }
        }
        for s in f.get("status") {
            if ![
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ]
            .contains(&s.as_str())
            {
                return Err(Error::bad_request(format!("invalid filter 'status={s}'")));
            }
        }
        let exited: Vec<i64> = f
            .get("exited")
            .iter()
            .map(|e| {
                e.parse()
                    .map_err(|_| Error::bad_request(format!("invalid filter 'exited={e}'")))
            })
            .collect::<Result<_>>()?;
        let ancestors: Vec<String> = f
            .get("ancestor")
            .iter()
            .filter_map(|a| self.images.resolve(a).ok().map(|i| i.id.to_string()))
            .collect();
        let created_of = |name: &str| -> Result<i64> {
            let h = self.container(name)?;
            let r = h.record();
            Ok(created_unix(&r))
        };
        let before = f.get("before").first().map(|b| created_of(b)).transpose()?;
        let since = f.get("since").first().map(|b| created_of(b)).transpose()?;
        let show_all = opts.all || f.has("status") || f.has("exited") || opts.limit.is_some();
        // Only the records that can be listed are copied (`ps` without -a on
        // a host of many stopped containers copies the running ones).
        let handles = if show_all {
            self.all_containers()
        } else {
            self.running_containers()
        };
        let mut recs: Vec<ContainerRecord> = handles
            .iter()
            .filter_map(|h| {
                let r = h.record();
                (show_all || r.state.running).then(|| r.clone())
            })
            .collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let mut out = Vec::new();
        for r in recs {
            let state = r.state.status();
            // Running counts paused and restarting containers in, as dockerd's.
            if !show_all && !r.state.running {
                continue;
            }
            if f.has("status") && !f.get("status").iter().any(|s| s == state) {
                continue;
            }
            if !f.labels_match(
                "label",
                r.config.labels.as_ref().unwrap_or(&Default::default()),
            ) {
                continue;
            }
            if f.has("name")
                && !f.get("name").iter().any(|n| {
                    r.name
                        .trim_start_matches('/')
                        .contains(n.trim_start_matches('/'))
                })
            {
                continue;
            }
            if f.has("id") && !f.get("id").iter().any(|i| r.id.starts_with(i.as_str())) {
                continue;
            }
            if f.has("ancestor") && !ancestors.contains(&r.image_id) {
                continue;
            }
            let health = r
                .state
                .health
                .as_ref()
                .map(|h| h.status.as_str())
                .unwrap_or("none");
            if f.has("health") && !f.get("health").iter().any(|x| x == health) {
                continue;
            }
            if !exited.is_empty() && (state != "exited" || !exited.contains(&r.state.exit_code)) {
                continue;
            }
            let c = created_unix(&r);
            if before.is_some_and(|b| c >= b) || since.is_some_and(|s| c <= s) {
                continue;
            }
            out.push(self.summary(&r, opts.size));
            if opts.limit.is_some_and(|l| l > 0 && out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}
