//! `POST /containers/create`: merges the image's config with the request as
//! dockerd does, checks everything that can be checked up front, and writes
//! the container's files and record.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

use crate::Error;
use berth_api::types::{ContainerConfig, ContainerCreateBody, ContainerCreateResponse, HostConfig};
use berth_runtime::spec::{capabilities, Resources};

use super::record::{now_rfc3339, ContainerHandle, ContainerRecord};
use crate::config::is_builtin_runtime;
use crate::engine::Engine;
use crate::{names, Result};

pub(crate) fn resources_of(h: &HostConfig) -> Resources {
    let (mut quota, mut period) = (h.cpu_quota, h.cpu_period);
    if h.nano_cpus > 0 {
        period = 100_000;
        quota = h.nano_cpus * period / 1_000_000_000;
    }
    Resources {
        memory: h.memory,
        memory_swap: h.memory_swap,
        memory_reservation: h.memory_reservation,
        cpu_shares: h.cpu_shares,
        cpu_quota: quota,
        cpu_period: period,
        cpuset_cpus: h.cpuset_cpus.clone(),
        cpuset_mems: h.cpuset_mems.clone(),
        pids_limit: h.pids_limit,
        memory_swappiness: h.memory_swappiness,
    }
}

/// A name held for a container being created or renamed; let go when dropped.
pub(super) struct HeldName<'a> {
    engine: &'a Engine,
    name: String,
}

impl Drop for HeldName<'_> {
    fn drop(&mut self) {
        self.engine.let_go(&self.name);
    }
}

impl Engine {
    /// Holds `name` unless another create does; whether it did.
    fn try_hold(&self, name: &str) -> bool {
        self.names_in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string())
    }

    fn let_go(&self, name: &str) {
        self.names_in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Holds `name` for a create; dockerd's conflict when another create holds it.
    pub(super) fn hold_name(&self, name: &str) -> Result<HeldName<'_>> {
        if !self.try_hold(name) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"{name}\" is already in use. You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        Ok(HeldName {
            engine: self,
            name: name.to_string(),
        })
    }
}

/// Options dockerd has and Berth does not yet: refused, never ignored.
fn refuse_unsupported(h: &HostConfig) -> Result<()> {
    let unsupported = if h.device_requests.as_ref().is_some_and(|v| !v.is_empty()) {
        Some("device requests (--gpus)")
    } else if !h.cgroup_parent.is_empty() {
        Some("a per-container --cgroup-parent")
    } else if !h.cgroup.is_empty() {
        Some("sharing another container's cgroup (HostConfig.Cgroup)")
    } else if h.oom_kill_disable {
        Some("--oom-kill-disable")
    } else {
        None
    };
    if let Some(what) = unsupported {
        return Err(Error::bad_request(format!(
            "{what} is not supported by this version of berthd yet"
        )));
    }
    if !matches!(h.isolation.as_str(), "" | "default") {
        return Err(Error::bad_request(format!(
            "invalid isolation: {} - linux only supports 'default'",
            h.isolation
        )));
    }
    Ok(())
}

/// dockerd's checks of the container config itself.
fn validate_config(config: &ContainerConfig) -> Result<()> {
    for e in config.env.iter().flatten() {
        if e.is_empty() || e.starts_with('=') {
            return Err(Error::bad_request(format!(
                "invalid environment variable: {e}"
            )));
        }
    }
    if let Some(h) = &config.healthcheck {
        // Zero means "inherit"; anything else must be at least a millisecond.
        for (name, v) in [
            ("Interval", h.interval),
            ("Timeout", h.timeout),
            ("StartPeriod", h.start_period),
            ("StartInterval", h.start_interval),
        ] {
            if v != 0 && v < 1_000_000 {
                return Err(Error::bad_request(format!(
                    "{name} in Healthcheck cannot be less than 1ms"
                )));
            }
        }
        if h.retries < 0 {
            return Err(Error::bad_request(
                "Retries in Healthcheck cannot be negative",
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_host_config(engine: &Engine, h: &HostConfig) -> Result<()> {
    refuse_unsupported(h)?;
    if h.memory > 0 && h.memory_reservation > h.memory {
        return Err(Error::bad_request(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if h.shm_size < 0 {
        return Err(Error::bad_request("SHM size can not be less than 0"));
    }
    for extra in h.extra_hosts.iter().flatten() {
        let Some((_, addr)) = extra.split_once([':', '=']) else {
            return Err(Error::bad_request(format!(
                "bad format for add-host: {extra:?}"
            )));
        };
        if addr != "host-gateway" && addr.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::bad_request(format!(
                "invalid IP address in add-host: {addr:?}"
            )));
        }
    }
    crate::volumes::check_driver(&h.volume_driver)?;
    let rp = &h.restart_policy;
    match rp.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if rp.maximum_retry_count != 0 {
                return Err(Error::bad_request("invalid restart policy: maximum retry count can only be used with 'on-failure'".to_string()));
            }
        }
        "on-failure" => {
            if rp.maximum_retry_count < 0 {
                return Err(Error::bad_request(
                    "invalid restart policy: maximum retry count cannot be negative",
                ));
            }
        }
        other => {
            return Err(Error::bad_request(format!(
                "invalid restart policy '{other}'"
            )))
        }
    }
    if h.auto_remove && !matches!(rp.name.as_str(), "" | "no") {
        return Err(Error::bad_request(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    if h.nano_cpus > 0 && (h.cpu_quota > 0 || h.cpu_period > 0) {
        return Err(Error::bad_request(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    if h.nano_cpus < 0 || h.nano_cpus > cpus * 1_000_000_000 {
        return Err(Error::bad_request(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    let resources = resources_of(h);
    resources.validate().map_err(Error::from)?;
    resources.check_available().map_err(Error::from)?;
    capabilities(
        h.privileged,
        h.cap_add.as_deref().unwrap_or(&[]),
        h.cap_drop.as_deref().unwrap_or(&[]),
        &engine.cfg.security.bounding,
    )
    .map_err(Error::from)?;
    let runtime = if h.runtime.is_empty() {
        engine.cfg.default_runtime.as_str()
    } else {
        h.runtime.as_str()
    };
    if !is_builtin_runtime(runtime) && !engine.cfg.runtimes.contains_key(runtime) {
        return Err(Error::bad_request(format!(
            "unknown or invalid runtime name: {runtime}"
        )));
    }
    match h.log_config.kind.as_str() {
        "" | "json-file" => {}
        // dockerd checks no options for `none`: it has none to check.
        "none" => return Ok(()),
        // dockerd's words for a driver it does not have.
        other => {
            return Err(Error::bad_request(format!(
                "logger: no log driver named '{other}' is registered"
            )))
        }
    }
    for (k, v) in h.log_config.config.iter().flatten() {
        match k.as_str() {
            "max-size" if berth_runtime::logs::parse_size(v).is_none() => {
                return Err(Error::bad_request(format!("invalid max-size: {v}")))
            }
            "max-file" if v.parse::<u32>().map_or(true, |n| n == 0) => {
                return Err(Error::bad_request(format!("invalid max-file: {v}")))
            }
            "max-size" | "max-file" | "compress" | "labels" | "env" | "tag" => {}
            other => {
                return Err(Error::bad_request(format!(
                    "unknown log opt '{other}' for json-file log driver"
                )))
            }
        }
    }
    Ok(())
}

/// Image env first, the request's entries replace those with the same key.
fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let key = |e: &str| {
        e.split_once('=')
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| e.to_string())
    };
    let mut out: Vec<String> = image.to_vec();
    for e in user {
        let k = key(e);
        out.retain(|x| key(x) != k);
        out.push(e.clone());
    }
    out
}

impl Engine {
    pub async fn create_container(
        self: &Arc<Self>,
        name: Option<&str>,
        body: ContainerCreateBody,
    ) -> Result<ContainerCreateResponse> {
        let mut config = body.config;
        let mut host_config = body.host_config.unwrap_or_default();
        if config.image.is_empty() {
            return Err(Error::bad_request(
                "config cannot be empty in order to create a container",
            ));
        }
        // The settings first, then the image, as dockerd checks them.
        validate_config(&config)?;
        validate_host_config(self, &host_config)?;
        let mut warnings = super::confinement::validate(&host_config, &config.hostname)?;
        super::userns::validate(&host_config, self.remap.is_some())?;
        let image = {
            let images = self.images.clone();
            let name = config.image.clone();
            crate::blocking(move || images.resolve(&name).map_err(Error::from)).await?
        };
        // A network that is not there is a bad request here, not a 404: clients
        // (the docker CLI, docker-py) take any 404 from create for a missing
        // image and go pulling it. dockerd creates the container and fails its start.
        let networks = self
            .plan_container_networks(
                &config,
                &mut host_config,
                body.networking_config.as_ref(),
                &mut warnings,
            )
            .map_err(|e| match e {
                Error::NotFound(m) => Error::Invalid(m),
                other => other,
            })?;
        // The name is held until the record is stored (or the create fails):
        // a generated one as it is picked, so two creates never pick one name.
        let (name, _held) = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = names::validate(n)?;
                let held = self.hold_name(&n)?;
                (n, held)
            }
            None => {
                let n = names::free(|n| {
                    if !self.try_hold(n) {
                        return Ok(true);
                    }
                    let owned = self.objects.container_name_owner(n).map(|o| o.is_some());
                    if !matches!(owned, Ok(false)) {
                        self.let_go(n);
                    }
                    owned
                })
                .map_err(Error::from)?
                .ok_or_else(|| Error::internal("no free container name could be generated"))?;
                let held = HeldName {
                    engine: self,
                    name: n.clone(),
                };
                (n, held)
            }
        };
        if let Some(owner) = self
            .objects
            .container_name_owner(&name)
            .map_err(Error::from)?
        {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        if let Some(links) = host_config.links.as_deref().filter(|l| !l.is_empty()) {
            host_config.links = Some(self.normalize_links(links, &name)?);
        }

        let img = &image.config.config;
        config.env = Some(merge_env(
            img.env.as_deref().unwrap_or(&[]),
            config.env.as_deref().unwrap_or(&[]),
        ));
        // An explicit entrypoint drops the image's CMD, as in docker.
        let (entrypoint, cmd) = match (&config.entrypoint, &config.cmd) {
            (Some(ep), cmd) => (ep.clone(), cmd.clone().unwrap_or_default()),
            (None, Some(cmd)) => (img.entrypoint.clone().unwrap_or_default(), cmd.clone()),
            (None, None) => (
                img.entrypoint.clone().unwrap_or_default(),
                img.cmd.clone().unwrap_or_default(),
            ),
        };
        if config.cmd.is_none() && config.entrypoint.is_none() {
            config.cmd = img.cmd.clone();
        }
        if config.entrypoint.is_none() {
            config.entrypoint = img.entrypoint.clone();
        }
        let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if argv.is_empty() || argv[0].is_empty() {
            return Err(Error::bad_request("no command specified"));
        }
        berth_runtime::spec::check_command(&argv, config.env.as_deref().unwrap_or(&[]))
            .map_err(Error::from)?;
        if config.working_dir.is_empty() {
            config.working_dir = img.working_dir.clone();
        }
        if config.working_dir.is_empty() {
            config.working_dir = "/".into();
        } else if !config.working_dir.starts_with('/') {
            return Err(Error::bad_request(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                config.working_dir
            )));
        }
        // Cleaned as dockerd does: `/../../tmp/x` is `/tmp/x` inside the root.
        config.working_dir = berth_rootpath::clean(&config.working_dir).map_err(|_| {
            Error::bad_request(format!(
                "the working directory {:?} is invalid: it contains a NUL byte",
                config.working_dir
            ))
        })?;
        if config.user.is_empty() {
            config.user = img.user.clone();
        }
        let mut labels: BTreeMap<String, String> = img.labels.clone().unwrap_or_default();
        labels.extend(config.labels.take().unwrap_or_default());
        config.labels = Some(labels);
        if config.stop_signal.is_none() {
            config.stop_signal = img.stop_signal.clone();
        }
        if let Some(sig) = &config.stop_signal {
            if berth_runtime::signal::parse_signal(sig).is_none() {
                return Err(Error::bad_request(format!("Invalid signal: {sig}")));
            }
        }
        if config.exposed_ports.is_none() {
            config.exposed_ports = img.exposed_ports.clone();
        }
        // Flags given without a test (only --health-interval, …) keep the image's.
        config.healthcheck = match (config.healthcheck.take(), img.healthcheck.clone()) {
            (None, image) => image,
            (Some(mut mine), Some(image)) => {
                if mine.test.is_none() {
                    mine.test = image.test;
                }
                for (m, i) in [
                    (&mut mine.interval, image.interval),
                    (&mut mine.timeout, image.timeout),
                    (&mut mine.start_period, image.start_period),
                    (&mut mine.retries, image.retries),
                ] {
                    if *m == 0 {
                        *m = i;
                    }
                }
                Some(mine)
            }
            (Some(mine), None) => Some(mine),
        };
        if host_config.runtime.is_empty() {
            host_config.runtime = self.cfg.default_runtime.clone();
        }
        // As dockerd shows them: the paths masked by default, unless privileged.
        if !host_config.privileged {
            if host_config.masked_paths.is_none() {
                host_config.masked_paths = Some(berth_runtime::spec::default_masked_paths());
            }
            if host_config.readonly_paths.is_none() {
                host_config.readonly_paths = Some(berth_runtime::spec::default_readonly_paths());
            }
        }
        // As dockerd with swap accounting: no swap limit given means as
        // much swap as memory (the cgroup gets twice the memory limit).
        if host_config.memory > 0 && host_config.memory_swap == 0 {
            host_config.memory_swap = host_config.memory.saturating_mul(2);
        }
        if host_config.log_config.config.is_none() {
            host_config.log_config.config = Some(Default::default());
        }
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = self.cfg.log_driver.clone();
        }
        let image_volumes: Vec<String> =
            img.volumes.iter().flat_map(|v| v.keys().cloned()).collect();
        let mounts = self.resolve_mounts(&config, &host_config, &image_volumes)?;
        let id = loop {
            let id = hex::encode(rand::random::<[u8; 32]>());
            // Docker avoids IDs that look like numbers, so a prefix is never taken for one.
            if !id[..12].bytes().all(|c| c.is_ascii_digit()) && self.container(&id[..12]).is_err() {
                break id;
            }
        };
        if config.hostname.is_empty() {
            config.hostname =
                if host_config.network_mode == "host" || host_config.uts_mode == "host" {
                    nix::unistd::gethostname()
                        .map(|h| h.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    id[..12].to_string()
                };
        }
        config.image = config.image.clone();

        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: now_rfc3339(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            runtime: host_config.runtime.clone(),
            config,
            host_config,
            image_id: image.id.to_string(),
            state: super::state::State::created(),
            restart_count: 0,
            shim_pid: 0,
            manually_stopped: false,
            mounts,
            networks,
            net: Default::default(),
        };
        let paths = self.paths(&id);
        self.write_container_files(&paths, &rec).map_err(|e| {
            let _ = fs::remove_dir_all(&paths.dir);
            Error::caused_by("create container files", e)
        })?;
        let doc = serde_json::to_string(&rec).map_err(|e| Error::internal(e.to_string()))?;
        if let Err(e) = self
            .objects
            .insert_container(&id, &name, &rec.image_id, &doc)
        {
            let _ = fs::remove_dir_all(&paths.dir);
            return Err(match e {
                berth_store::StoreError::Conflict(_) => Error::conflict(format!(
                    "Conflict. The container name \"{name}\" is already in use. You have to remove (or rename) that container to be able to reuse that name."
                )),
                other => other.into(),
            });
        }
        self.container_event(&rec, "create", &[]);
        self.lock_map().insert(Arc::new(ContainerHandle::new(rec)));
        Ok(ContainerCreateResponse { id, warnings })
    }

    /// Checks the network options as dockerd does and plans the endpoints.
    fn plan_container_networks(
        &self,
        config: &berth_api::types::ContainerConfig,
        host_config: &mut HostConfig,
        networking: Option<&serde_json::Value>,
        warnings: &mut Vec<String>,
    ) -> Result<BTreeMap<String, berth_api::network::EndpointSettings>> {
        let mode = match host_config.network_mode.as_str() {
            "" | "default" => "bridge".to_string(),
            m => m.to_string(),
        };
        let publishes = host_config
            .port_bindings
            .as_ref()
            .is_some_and(|p| !p.is_empty())
            || host_config.publish_all_ports;
        if let Some(pb) = &host_config.port_bindings {
            crate::networks::validate_port_bindings(pb)?;
        }
        if let Some(other) = mode.strip_prefix("container:") {
            self.container(other)?;
            let conflict = |what: &str| {
                Err(Error::bad_request(format!(
                    "conflicting options: {what} and the network mode"
                )))
            };
            if !config.hostname.is_empty() {
                return conflict("hostname");
            }
            if host_config.dns.as_ref().is_some_and(|d| !d.is_empty()) {
                return conflict("dns");
            }
            if host_config
                .extra_hosts
                .as_ref()
                .is_some_and(|d| !d.is_empty())
            {
                return conflict("custom host-to-IP mapping");
            }
            if publishes {
                return Err(Error::bad_request(
                    "conflicting options: port publishing and the container type network mode",
                ));
            }
        }
        let requested = match networking.and_then(|n| n.get("EndpointsConfig")) {
            Some(v) if !v.is_null() => serde_json::from_value(v.clone())
                .map_err(|e| Error::bad_request(format!("invalid EndpointsConfig: {e}")))?,
            _ => BTreeMap::new(),
        };
        let mac = config
            .extra
            .get("MacAddress")
            .and_then(|m| m.as_str())
            .unwrap_or("");
        let networks = self.plan_networks(&mode, requested, mac)?;
        // The mode names the network it found (an ID prefix becomes its name).
        host_config.network_mode = if mode.starts_with("container:") {
            mode
        } else {
            self.find_network(&mode)?.name
        };
        if publishes && matches!(host_config.network_mode.as_str(), "host" | "none") {
            warnings.push("Published ports are discarded when using host network mode".into());
        }
        Ok(networks)
    }
}

impl Engine {
    fn write_container_files(
        &self,
        paths: &super::record::ContainerPaths,
        rec: &ContainerRecord,
    ) -> std::io::Result<()> {
        for d in [
            paths.dir.clone(),
            paths.upper(),
            paths.work(),
            paths.rootfs(),
        ] {
            fs::create_dir_all(d)?;
        }
        fs::write(paths.hostname(), format!("{}\n", rec.config.hostname))?;
        self.write_etc_files(paths, rec, None, None)
    }
}
