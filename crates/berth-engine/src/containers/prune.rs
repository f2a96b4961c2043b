//! `POST /containers/prune`: removes every stopped container.

use std::sync::Arc;

use crate::Error;
use berth_api::filters::Filters;
use berth_api::types::ContainerPruneReport;

use crate::engine::Engine;
use crate::Result;

/// `until` for prune filters: a unix timestamp, RFC 3339 time, or a Go duration like `24h`.
pub fn parse_until(s: &str) -> Result<i64> {
    if let Ok(n) = s.parse::<f64>() {
        return Ok(n as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
    let n: f64 = num
        .parse()
        .map_err(|_| Error::bad_request(format!("invalid until filter: {s}")))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(Error::bad_request(format!("invalid until filter: {s}"))),
    };
    Ok(chrono::Utc::now().timestamp() - secs as i64)
}

impl Engine {
    pub async fn prune_containers(
        self: &Arc<Self>,
        filters: &Filters,
    ) -> Result<ContainerPruneReport> {
        filters.only(&["until", "label", "label!"])?;
        let until = filters
            .get("until")
            .first()
            .map(|u| parse_until(u))
            .transpose()?;
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for h in self.all_containers() {
            let r = h.record().clone();
            if r.state.running {
                continue;
            }
            let labels = r.config.labels.clone().unwrap_or_default();
            if !filters.labels_match("label", &labels) {
                continue;
            }
            if filters.has("label!")
                && filters
                    .get("label!")
                    .iter()
                    .any(|f| match f.split_once('=') {
                        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                        None => labels.contains_key(f.as_str()),
                    })
            {
                continue;
            }
            if until.is_some_and(|u| super::list::created_unix(&r) >= u) {
                continue;
            }
            let size = berth_store::layer::tree_size(&self.paths(&r.id).upper()) as i64;
            if self.remove_container(&r.id, false, false).await.is_ok() {
                deleted.push(r.id);
                reclaimed += size;
            }
        }
        Ok(ContainerPruneReport {
            containers_deleted: deleted,
            space_reclaimed: reclaimed,
        })
    }
}
