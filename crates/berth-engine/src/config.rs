//! The engine's settings, from berthd's flags and `daemon.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub shim_binary: PathBuf,
    /// Extra OCI runtimes by name (`daemon.json` `runtimes`); `berth` is built in.
    pub runtimes: BTreeMap<String, PathBuf>,
    pub default_runtime: String,
    /// The log driver of containers that name none (`daemon.json` `log-driver`:
    /// `json-file` or `none`).
    pub log_driver: String,
    /// json-file `max-size` / `max-file` defaults (`daemon.json` `log-opts`).
    pub log_opts: BTreeMap<String, String>,
    /// The cgroup under which containers' cgroups are made.
    pub cgroup_parent: String,
    /// `berth-init`, mounted at /sbin/docker-init for `--init` (`init-path`).
    pub init_binary: PathBuf,
    /// Run every container with the init (`daemon.json` `init`).
    pub init_by_default: bool,
    pub network: crate::networks::NetworkConfig,
    /// How registries are reached (`insecure-registries`, mirrors, certificates).
    pub registries: std::sync::Arc<berth_registry::client::Settings>,
    /// Confinement defaults (seccomp profile, no-new-privileges, cgroupns, ulimits).
    pub security: crate::containers::confinement::SecurityConfig,
    /// `userns-remap`: container root as an unprivileged host user.
    pub userns: Option<crate::containers::userns::UsernsConfig>,
}

/// The built-in runtime (libcontainer in `berth-shim`) goes by dockerd's
/// name for its default, `runc`: clients compare `HostConfig.Runtime` with it.
pub const BUILTIN_RUNTIME: &str = "runc";

/// Whether a container's runtime name means the built-in one: also the
/// name older berthds recorded, `berth`.
pub fn is_builtin_runtime(name: &str) -> bool {
    matches!(name, "" | BUILTIN_RUNTIME | "berth")
}

impl EngineConfig {
    pub fn new(data_root: impl Into<PathBuf>, exec_root: impl Into<PathBuf>) -> EngineConfig {
        let shim_binary = berth_runtime::supervisor::find_shim_binary();
        let init_binary = shim_binary.with_file_name("berth-init");
        EngineConfig {
            data_root: data_root.into(),
            exec_root: exec_root.into(),
            shim_binary,
            runtimes: BTreeMap::new(),
            default_runtime: BUILTIN_RUNTIME.into(),
            log_driver: "json-file".into(),
            log_opts: BTreeMap::new(),
            cgroup_parent: "berth".into(),
            init_binary,
            init_by_default: false,
            network: Default::default(),
            registries: Default::default(),
            security: Default::default(),
            userns: None,
        }
    }
}
