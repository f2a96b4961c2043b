//! Volumes with the `local` driver: a directory under `data-root/volumes`, or
//! (with `driver_opts` `type`/`device`/`o`) a mount made there, as Docker's
//! local driver does, tmpfs and bind included.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use crate::Error;
use berth_api::filters::Filters;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::Result;

/// The label Docker puts on volumes made for `VOLUME` and `-v /path`.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// A volume; its fields in dockerd's order (the API's `Volume`, alphabetical),
/// which clients that print the JSON as it comes show.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: String,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// Filled with the image's content on first use (copy-up) already.
    #[serde(default, skip_serializing)]
    pub initialized: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeCreateBody {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

fn valid_name(n: &str) -> bool {
    n.len() >= 2
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Volumes come from the built-in driver alone (plugins are another
/// issue's): any other name is dockerd's 404 for a missing plugin.
pub(crate) fn check_driver(driver: &str) -> Result<()> {
    if matches!(driver, "" | "local") {
        return Ok(());
    }
    Err(Error::not_found(format!(
        "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
    )))
}

impl Engine {
    fn volume_dir(&self, name: &str) -> PathBuf {
        self.cfg.data_root.join("volumes").join(name)
    }

    pub fn volume(&self, name: &str) -> Result<Volume> {
        let doc = self
            .objects
            .volume(name)
            .map_err(Error::from)?
            .ok_or_else(|| Error::not_found(format!("get {name}: no such volume")))?;
        serde_json::from_str(&doc).map_err(|e| Error::internal(format!("volume {name}: {e}")))
    }

    pub(crate) fn save_volume(&self, v: &Volume) -> Result<()> {
        let doc = serde_json::to_string(v).map_err(|e| Error::internal(e.to_string()))?;
        self.objects
            .update_volume(&v.name, &doc)
            .map_err(Error::from)
    }

    pub fn create_volume(&self, body: VolumeCreateBody) -> Result<Volume> {
        let driver = if body.driver.is_empty() {
            "local".to_string()
        } else {
            body.driver.clone()
        };
        check_driver(&driver)
            .map_err(|e| Error::not_found(format!("create {}: {e}", body.name)))?;
        let anonymous = body.name.is_empty();
        let name = if anonymous {
            hex::encode(rand::random::<[u8; 32]>())
        } else {
            body.name.clone()
        };
        // A name is a directory name: the file system allows 255 bytes.
        if name.len() > 255 {
            return Err(Error::bad_request(format!(
                "create {}…: volume name is too long ({} bytes, at most 255)",
                name.chars().take(32).collect::<String>(),
                name.len()
            )));
        }
        if !valid_name(&name) {
            return Err(Error::bad_request(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if let Ok(existing) = self.volume(&name) {
            return Ok(existing);
        }
        let options = body.driver_opts.unwrap_or_default();
        for k in options.keys() {
            if !["type", "device", "o", "size"].contains(&k.as_str()) {
                return Err(Error::bad_request(format!("invalid option key: {k:?}")));
            }
        }
        if options.contains_key("device") != options.contains_key("type")
            && !options.contains_key("o")
        {
            return Err(Error::bad_request(
                "missing required option: \"type\" and \"device\" go together",
            ));
        }
        let mut labels = body.labels.unwrap_or_default();
        if anonymous {
            labels.insert(ANONYMOUS_LABEL.into(), String::new());
        }
        let data = self.volume_dir(&name).join("_data");
        fs::create_dir_all(&data)
            .map_err(|e| Error::internal(format!("create volume {name}: {e}")))?;
        // As dockerd: with remapped containers, a volume is their root's.
        if let Some(r) = &self.remap {
            let (uid, gid) = r.remap.root();
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                .map_err(|e| Error::internal(format!("chown volume {name}: {e}")))?;
        }
        let v = Volume {
            name: name.clone(),
            driver,
            mountpoint: data.display().to_string(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            scope: "local".into(),
            options,
            initialized: false,
        };
        let doc = serde_json::to_string(&v).map_err(|e| Error::internal(e.to_string()))?;
        if !self
            .objects
            .insert_volume(&name, &doc)
            .map_err(Error::from)?
        {
            // Created concurrently under the same name: that one wins.
            return self.volume(&name);
        }
        self.events.publish(crate::events::Event {
            kind: "volume".into(),
            action: "create".into(),
            actor_id: name.clone(),
            attributes: [("driver".to_string(), "local".to_string())].into(),
            time_nano: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        });
        Ok(v)
    }

    /// Containers (IDs) whose mounts use a volume.
    pub fn volume_users(&self, name: &str) -> Vec<String> {
        self.all_containers()
            .iter()
            .filter_map(|h| {
                let r = h.record();
                r.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.name == name)
                    .then(|| r.id.clone())
            })
            .collect()
    }

    /// Makes a volume's data directory ready: mounts what `driver_opts` asks for.
    pub(crate) fn prepare_volume(&self, v: &Volume) -> Result<PathBuf> {
        let data = PathBuf::from(&v.mountpoint);
        fs::create_dir_all(&data)
            .map_err(|e| Error::internal(format!("volume {}: {e}", v.name)))?;
        if let Some(kind) = v.options.get("type") {
            if !berth_store::overlay::is_mounted(&data) {
                let device = v
                    .options
                    .get("device")
                    .cloned()
                    .unwrap_or_else(|| kind.clone());
                let opts = v.options.get("o").cloned().unwrap_or_default();
                let (flags, data_opts) = if kind == "none" || opts.split(',').any(|o| o == "bind") {
                    (
                        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
                        None,
                    )
                } else {
                    (nix::mount::MsFlags::empty(), Some(opts.as_str()))
                };
                nix::mount::mount(
                    Some(device.as_str()),
                    &data,
                    Some(kind.as_str()),
                    flags,
                    data_opts,
                )
                .map_err(|e| {
                    Error::internal(format!("error while mounting volume '{}': {e}", v.name))
                })?;
            }
        }
        Ok(data)
    }

    pub fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let v = match self.volume(name) {
            Ok(v) => v,
            Err(e) if force && e.kind() == berth_api::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let users = self.volume_users(name);
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let dir = self.volume_dir(name);
        let data = PathBuf::from(&v.mountpoint);
        if berth_store::overlay::is_mounted(&data) {
            berth_store::overlay::unmount(&data).map_err(Error::from)?;
        }
        self.objects.delete_volume(name).map_err(Error::from)?;
        let _ = fs::remove_dir_all(&dir);
        self.events.publish(crate::events::Event {
            kind: "volume".into(),
            action: "destroy".into(),
            actor_id: name.into(),
            attributes: [("driver".to_string(), "local".to_string())].into(),
            time_nano: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        });
        Ok(())
    }

    fn all_volumes(&self) -> Result<Vec<Volume>> {
        Ok(self
            .objects
            .volumes()
            .map_err(Error::from)?
            .into_iter()
            .filter_map(|(_, d)| serde_json::from_str(&d).ok())
            .collect())
    }

    pub fn list_volumes(&self, filters: &Filters) -> Result<Value> {
        filters.only(&["dangling", "name", "label", "driver"])?;
        let dangling = match filters.get("dangling").first().map(String::as_str) {
            None => None,
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(v) => return Err(Error::bad_request(format!("invalid filter 'dangling={v}'"))),
        };
        let vols: Vec<Volume> = self
            .all_volumes()?
            .into_iter()
            .filter(|v| dangling.is_none_or(|d| d == self.volume_users(&v.name).is_empty()))
            .filter(|v| {
                !filters.has("name")
                    || filters
                        .get("name")
                        .iter()
                        .any(|n| v.name.contains(n.as_str()))
            })
            .filter(|v| !filters.has("driver") || filters.get("driver").contains(&v.driver))
            .filter(|v| filters.labels_match("label", &v.labels))
            .collect();
        Ok(json!({"Volumes": vols, "Warnings": []}))
    }

    /// `volume prune`: unused anonymous volumes, or all unused with `all=true`.
    pub fn prune_volumes(&self, filters: &Filters) -> Result<Value> {
        filters.only(&["label", "all"])?;
        let all = matches!(
            filters.get("all").first().map(String::as_str),
            Some("true" | "1")
        );
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for v in self.all_volumes()? {
            if !self.volume_users(&v.name).is_empty() || !filters.labels_match("label", &v.labels) {
                continue;
            }
            if !all && !v.labels.contains_key(ANONYMOUS_LABEL) {
                continue;
            }
            let size = berth_store::layer::tree_size(std::path::Path::new(&v.mountpoint));
            if self.remove_volume(&v.name, false).is_ok() {
                reclaimed += size;
                deleted.push(v.name);
            }
        }
        Ok(json!({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}))
    }

    /// Sizes for `system df`.
    pub fn volumes_df(&self) -> Result<Vec<Value>> {
        Ok(self
            .all_volumes()?
            .into_iter()
            .map(|v| {
                let size = berth_store::layer::tree_size(std::path::Path::new(&v.mountpoint));
                let refs = self.volume_users(&v.name).len();
                let mut j = serde_json::to_value(&v).unwrap_or_default();
                j["UsageData"] = json!({"Size": size, "RefCount": refs});
                j
            })
            .collect())
    }

    pub(crate) fn remove_anonymous_volumes(self: &Arc<Self>, names: &[String]) {
        for n in names {
            if let Ok(v) = self.volume(n) {
                if v.labels.contains_key(ANONYMOUS_LABEL) {
                    let _ = self.remove_volume(n, false);
                }
            }
        }
    }
}
