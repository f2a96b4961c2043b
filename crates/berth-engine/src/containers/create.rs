//! `POST /containers/create`: merges the image's config with the request as
//! dockerd does, checks everything that can be checked up front, and writes
//! the container's files and record.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;

use berth_api::types::{ContainerCreateBody, ContainerCreateResponse, ContainerState, HostConfig};
use berth_api::ApiError;
use berth_runtime::spec::{capabilities, Resources};

use super::record::{now_rfc3339, ContainerHandle, ContainerRecord, ZERO_TIME};
use crate::config::BUILTIN_RUNTIME;
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
    }
}

/// Options a later version will honour; refused now rather than silently ignored.
fn refuse_unsupported(h: &HostConfig) -> Result<()> {
    let non_empty = |k: &str| match h.extra.get(k) {
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        _ => false,
    };
    let unsupported = if non_empty("PortBindings") {
        Some("publishing ports")
    } else if non_empty("Devices") {
        Some("adding devices")
    } else {
        None
    };
    match unsupported {
        Some(what) => Err(ApiError::bad_request(format!(
            "{what} are not supported by this version of berthd yet"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn validate_host_config(engine: &Engine, h: &HostConfig) -> Result<()> {
    match h.network_mode.as_str() {
        "" | "default" | "bridge" | "none" | "host" => {}
        m if m.starts_with("container:") => {
            return Err(ApiError::bad_request(format!(
                "network mode {m} is not supported by this version of berthd"
            )))
        }
        m => return Err(ApiError::not_found(format!("network {m} not found"))),
    }
    let rp = &h.restart_policy;
    match rp.name.as_str() {
        "" | "no" | "always" | "unless-stopped" => {
            if rp.maximum_retry_count != 0 {
                return Err(ApiError::bad_request("invalid restart policy: maximum retry count can only be used with 'on-failure'".to_string()));
            }
        }
        "on-failure" => {
            if rp.maximum_retry_count < 0 {
                return Err(ApiError::bad_request(
                    "invalid restart policy: maximum retry count cannot be negative",
                ));
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid restart policy '{other}'"
            )))
        }
    }
    if h.auto_remove && !matches!(rp.name.as_str(), "" | "no") {
        return Err(ApiError::bad_request(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    if h.nano_cpus > 0 && (h.cpu_quota > 0 || h.cpu_period > 0) {
        return Err(ApiError::bad_request(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    if h.nano_cpus < 0 || h.nano_cpus > cpus * 1_000_000_000 {
        return Err(ApiError::bad_request(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    resources_of(h).validate().map_err(ApiError::from)?;
    capabilities(
        h.privileged,
        h.cap_add.as_deref().unwrap_or(&[]),
        h.cap_drop.as_deref().unwrap_or(&[]),
    )
    .map_err(ApiError::from)?;
    let runtime = if h.runtime.is_empty() {
        engine.cfg.default_runtime.as_str()
    } else {
        h.runtime.as_str()
    };
    if runtime != BUILTIN_RUNTIME && !engine.cfg.runtimes.contains_key(runtime) {
        return Err(ApiError::bad_request(format!(
            "unknown or invalid runtime name: {runtime}"
        )));
    }
    match h.log_config.kind.as_str() {
        "" | "json-file" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "logging driver {other:?} is not supported (only json-file)"
            )))
        }
    }
    for (k, v) in h.log_config.config.iter().flatten() {
        match k.as_str() {
            "max-size" if berth_runtime::logs::parse_size(v).is_none() => {
                return Err(ApiError::bad_request(format!("invalid max-size: {v}")))
            }
            "max-file" if v.parse::<u32>().map_or(true, |n| n == 0) => {
                return Err(ApiError::bad_request(format!("invalid max-file: {v}")))
            }
            "max-size" | "max-file" | "compress" | "labels" | "env" | "tag" => {}
            other => {
                return Err(ApiError::bad_request(format!(
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
            return Err(ApiError::bad_request(
                "config cannot be empty in order to create a container",
            ));
        }
        let image = {
            let images = self.images.clone();
            let name = config.image.clone();
            crate::blocking(move || images.resolve(&name).map_err(ApiError::from)).await?
        };
        validate_host_config(self, &host_config)?;
        refuse_unsupported(&host_config)?;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => names::validate(n)?,
            None => loop {
                let n = format!("/{}", names::generate());
                if self
                    .images
                    .db
                    .container_name_owner(&n)
                    .map_err(ApiError::from)?
                    .is_none()
                {
                    break n;
                }
            },
        };
        if let Some(owner) = self
            .images
            .db
            .container_name_owner(&name)
            .map_err(ApiError::from)?
        {
            return Err(ApiError::conflict(format!(
                "Conflict. The container name \"{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
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
            return Err(ApiError::bad_request("no command specified"));
        }
        if config.working_dir.is_empty() {
            config.working_dir = img.working_dir.clone();
        }
        if config.working_dir.is_empty() {
            config.working_dir = "/".into();
        } else if !config.working_dir.starts_with('/') {
            return Err(ApiError::bad_request(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                config.working_dir
            )));
        }
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
                return Err(ApiError::bad_request(format!("Invalid signal: {sig}")));
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
        if host_config.network_mode.is_empty() {
            host_config.network_mode = "default".into();
        }
        if host_config.runtime.is_empty() {
            host_config.runtime = self.cfg.default_runtime.clone();
        }
        if host_config.log_config.kind.is_empty() {
            host_config.log_config.kind = "json-file".into();
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
            config.hostname = if host_config.network_mode == "host" {
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
            state: ContainerState {
                status: "created".into(),
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                ..Default::default()
            },
            restart_count: 0,
            shim_pid: 0,
            manually_stopped: false,
            mounts,
        };
        let paths = self.paths(&id);
        write_container_files(&paths, &rec).map_err(|e| {
            let _ = fs::remove_dir_all(&paths.dir);
            ApiError::internal(format!("create container files: {e}"))
        })?;
        let doc = serde_json::to_string(&rec).map_err(|e| ApiError::internal(e.to_string()))?;
        if let Err(e) = self
            .images
            .db
            .insert_container(&id, &name, &rec.image_id, &doc)
        {
            let _ = fs::remove_dir_all(&paths.dir);
            return Err(match e {
                berth_store::StoreError::Conflict(_) => ApiError::conflict(format!(
                    "Conflict. The container name \"{name}\" is already in use. You have to remove (or rename) that container to be able to reuse that name."
                )),
                other => other.into(),
            });
        }
        self.container_event(&rec, "create", &[]);
        self.lock_map()
            .insert(id.clone(), Arc::new(ContainerHandle::new(rec)));
        Ok(ContainerCreateResponse {
            id,
            warnings: vec![],
        })
    }
}

fn write_container_files(
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
    let host_net = rec.host_config.network_mode == "host";
    fs::write(paths.hostname(), format!("{}\n", rec.config.hostname))?;
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if host_net {
        hosts = fs::read_to_string("/etc/hosts").unwrap_or(hosts);
    }
    for extra in rec.host_config.extra_hosts.iter().flatten() {
        if let Some((h, ip)) = extra.split_once(':') {
            hosts.push_str(&format!("{ip}\t{h}\n"));
        }
    }
    fs::write(paths.hosts(), hosts)?;
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut resolv: String = if host_net {
        host_resolv
    } else {
        // Loopback resolvers of the host are unreachable from another netns.
        host_resolv
            .lines()
            .filter(|l| {
                !(l.starts_with("nameserver") && (l.contains(" 127.") || l.contains(" ::1")))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    };
    if let Some(dns) = &rec.host_config.dns {
        resolv = resolv
            .lines()
            .filter(|l| !l.starts_with("nameserver"))
            .map(|l| format!("{l}\n"))
            .collect();
        for d in dns {
            resolv.push_str(&format!("nameserver {d}\n"));
        }
    }
    if let Some(search) = rec
        .host_config
        .dns_search
        .as_ref()
        .filter(|s| !s.is_empty())
    {
        resolv = resolv
            .lines()
            .filter(|l| !l.starts_with("search"))
            .map(|l| format!("{l}\n"))
            .collect();
        resolv.push_str(&format!("search {}\n", search.join(" ")));
    }
    fs::write(paths.resolv_conf(), resolv)?;
    Ok(())
}
