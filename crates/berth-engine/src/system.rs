//! `/version`, `/info` and `/system/df`.

use crate::Error;
use berth_api::types::SystemDf;
use berth_api::version::{API_VERSION, MIN_API_VERSION};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::Result;

pub const BERTH_VERSION: &str = env!("CARGO_PKG_VERSION");

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

impl Engine {
    pub fn version(&self) -> Value {
        let arch = berth_api::version::host_arch();
        json!({
            "Platform": {"Name": "Berth Engine"},
            "Components": [{"Name": "Engine", "Version": BERTH_VERSION, "Details": {
                "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "Os": "linux", "Arch": arch,
                "KernelVersion": kernel_version(), "Experimental": "false"
            }}],
            "Version": BERTH_VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": kernel_version(),
            "BuildTime": "",
        })
    }

    pub fn info(&self) -> Value {
        let cs: Vec<_> = self
            .all_containers()
            .iter()
            .map(|h| h.record().state.clone())
            .collect();
        // As dockerd counts them: a restarting container is not running.
        let running = cs.iter().filter(|s| s.status() == "running").count();
        let paused = cs.iter().filter(|s| s.status() == "paused").count();
        let images = self.images.list().map(|l| l.len()).unwrap_or(0);
        let cgroup_version = match berth_runtime::cgroups::version() {
            berth_runtime::cgroups::CgroupVersion::V1 => "1",
            berth_runtime::cgroups::CgroupVersion::V2 => "2",
        };
        let mut runtimes = serde_json::Map::new();
        runtimes.insert(
            crate::config::BUILTIN_RUNTIME.into(),
            json!({"path": self.cfg.shim_binary.display().to_string()}),
        );
        for (name, path) in &self.cfg.runtimes {
            runtimes.insert(name.clone(), json!({"path": path.display().to_string()}));
        }
        json!({
            "ID": "",
            "Containers": cs.len(),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": cs.len() - running - paused,
            "Images": images,
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": null, "Log": ["json-file"]},
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "OomKillDisable": false,
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .is_ok_and(|v| v.trim() == "1"),
            "BridgeNfIptables": std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
                .is_ok_and(|v| v.trim() == "1"),
            "BridgeNfIp6tables": std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-ip6tables")
                .is_ok_and(|v| v.trim() == "1"),
            "Debug": false,
            "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "NGoroutines": 0,
            "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "LoggingDriver": self.cfg.log_driver,
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "NEventsListener": self.events.listeners(),
            "KernelVersion": kernel_version(),
            "OperatingSystem": os_name(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": self.registry_config(),
            // Where new networks' subnets come from (`default-address-pools`).
            "DefaultAddressPools": self.cfg.network.pools.iter()
                .map(|(base, size)| json!({"Base": base.to_string(), "Size": size}))
                .collect::<Vec<_>>(),
            // Swarm's generic resources: none configured (swarm mode is not here yet).
            "GenericResources": null,
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": berth_runtime::cgroups::host_memory(),
            "DockerRootDir": self.cfg.data_root.display().to_string(),
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": BERTH_VERSION,
            "Runtimes": runtimes,
            "DefaultRuntime": self.cfg.default_runtime,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": true,
            "Isolation": "",
            "InitBinary": self.cfg.init_binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "SecurityOptions": self.security_options(),
            "Warnings": [],
        })
    }

    /// `RegistryConfig` as dockerd builds it from `insecure-registries` and
    /// `registry-mirrors`: CIDRs apart from names, loopback always insecure,
    /// Docker Hub secure and official, with the mirrors.
    fn registry_config(&self) -> Value {
        let r = &self.cfg.registries;
        let is_cidr = |s: &str| s.parse::<ipnet::IpNet>().is_ok();
        let mut cidrs = vec!["127.0.0.0/8".to_string()];
        cidrs.extend(r.insecure.iter().filter(|s| is_cidr(s)).cloned());
        cidrs.dedup();
        let mirrors: Vec<String> = r
            .mirrors
            .iter()
            .map(|m| format!("{}/", m.trim_end_matches('/')))
            .collect();
        let mut index = serde_json::Map::new();
        index.insert(
            "docker.io".into(),
            json!({"Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true}),
        );
        for name in r.insecure.iter().filter(|s| !is_cidr(s)) {
            index.insert(
                name.clone(),
                json!({"Name": name, "Mirrors": [], "Secure": false, "Official": false}),
            );
        }
        json!({
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": cidrs,
            "IndexConfigs": index,
            "Mirrors": mirrors,
        })
    }

    /// What confines containers by default, in dockerd's `SecurityOptions` form.
    fn security_options(&self) -> Vec<String> {
        use crate::containers::confinement::DaemonSeccomp;
        let sec = &self.cfg.security;
        let mut out = vec![match &sec.seccomp {
            DaemonSeccomp::Builtin => "name=seccomp,profile=builtin".to_string(),
            DaemonSeccomp::Unconfined => "name=seccomp,profile=unconfined".to_string(),
            DaemonSeccomp::File { path, .. } => format!("name=seccomp,profile={path}"),
        }];
        if sec.no_new_privileges {
            out.push("name=no-new-privileges".into());
        }
        if self.remap.is_some() {
            out.push("name=userns".into());
        }
        if sec.cgroupns_private {
            out.push("name=cgroupns".into());
        }
        out
    }

    /// The legacy builder's cached steps in BuildKit's `BuildCache` shape.
    fn build_cache_df(&self) -> Result<Vec<Value>> {
        let entries = self.images.build_cache_entries().map_err(Error::from)?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let created = chrono::DateTime::from_timestamp(e.created, 0)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                json!({
                    "ID": e.id.trim_start_matches("sha256:"),
                    "Parent": e.parent.trim_start_matches("sha256:"),
                    "Type": "regular",
                    "Description": e.description,
                    "InUse": self.image_user(&e.id).is_some(),
                    "Shared": false,
                    "Size": e.size,
                    "CreatedAt": created,
                    "LastUsedAt": null,
                    "UsageCount": 0,
                })
            })
            .collect())
    }

    pub fn system_df(&self) -> Result<SystemDf> {
        let images = self.list_images(true, &Default::default(), true)?;
        let containers: Vec<_> = self
            .all_containers()
            .iter()
            // A copy: the record is not held while its files are counted.
            .map(|h| {
                let r = h.record().clone();
                self.summary(&r, true)
            })
            .collect();
        Ok(SystemDf {
            layers_size: self.images.layers_size().map_err(Error::from)?,
            images,
            containers,
            volumes: self.volumes_df()?,
            build_cache: self.build_cache_df()?,
        })
    }
}
