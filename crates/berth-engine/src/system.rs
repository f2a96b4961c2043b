//! `/version`, `/info` and `/system/df`.

use berth_api::types::SystemDf;
use berth_api::version::{API_VERSION, MIN_API_VERSION};
use berth_api::ApiError;
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
        let running = cs.iter().filter(|s| s.running && !s.paused).count();
        let paused = cs.iter().filter(|s| s.paused).count();
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
            "Plugins": {"Volume": [], "Network": ["host", "null"], "Authorization": null, "Log": ["json-file"]},
            "MemoryLimit": true,
            "SwapLimit": true,
            "CpuCfsPeriod": true,
            "CpuCfsQuota": true,
            "CPUShares": true,
            "CPUSet": true,
            "PidsLimit": true,
            "OomKillDisable": false,
            "IPv4Forwarding": true,
            "Debug": false,
            "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "NGoroutines": 0,
            "SystemTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": kernel_version(),
            "OperatingSystem": os_name(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"], "Mirrors": []},
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
            "InitBinary": "",
            "SecurityOptions": self.security_options(),
            "Warnings": [],
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

    pub fn system_df(&self) -> Result<SystemDf> {
        let images = self.list_images(true, &Default::default(), true)?;
        let containers: Vec<_> = self
            .all_containers()
            .iter()
            .map(|h| self.summary(&h.record(), true))
            .collect();
        Ok(SystemDf {
            layers_size: self.images.layers_size().map_err(ApiError::from)?,
            images,
            containers,
            volumes: self.volumes_df()?,
            build_cache: vec![],
        })
    }
}
