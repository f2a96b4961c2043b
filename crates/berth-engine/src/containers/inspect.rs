//! `GET /containers/{id}/json`.

use berth_api::types::{ContainerInspect, GraphDriver};

use crate::engine::Engine;
use crate::Result;

impl Engine {
    pub fn inspect_container(&self, name: &str, size: bool) -> Result<ContainerInspect> {
        let h = self.container(name)?;
        let r = h.record().clone();
        let paths = self.paths(&r.id);
        let lowers = self
            .images
            .resolve(&r.image_id)
            .and_then(|i| self.images.lower_dirs(&i))
            .map(|l| {
                l.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .unwrap_or_default();
        let summary = size.then(|| self.summary(&r, true));
        Ok(ContainerInspect {
            id: r.id.clone(),
            created: r.created.clone(),
            path: r.path.clone(),
            args: r.args.clone(),
            state: r.state.to_api(),
            image: r.image_id.clone(),
            resolv_conf_path: paths.resolv_conf().display().to_string(),
            hostname_path: paths.hostname().display().to_string(),
            hosts_path: paths.hosts().display().to_string(),
            // dockerd's answer for a driver without a file.
            log_path: match r.keeps_log() {
                true => paths.log(&r.id).display().to_string(),
                false => String::new(),
            },
            name: r.name.clone(),
            restart_count: r.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: self.exec_ids(&r.id),
            host_config: r.host_config.clone(),
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: [
                    ("LowerDir".to_string(), lowers),
                    ("UpperDir".to_string(), paths.upper().display().to_string()),
                    ("WorkDir".to_string(), paths.work().display().to_string()),
                    (
                        "MergedDir".to_string(),
                        paths.rootfs().display().to_string(),
                    ),
                ]
                .into(),
            },
            size_rw: summary.as_ref().and_then(|s| s.size_rw),
            size_root_fs: summary.as_ref().and_then(|s| s.size_root_fs),
            mounts: super::mounts::to_json(&r.mounts),
            config: r.config.clone(),
            network_settings: crate::networks::network_settings(&r),
        })
    }
}
