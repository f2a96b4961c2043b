//! Engine API v1.47 request and response bodies. Field names are exactly the
//! spec's; fields Berth does not interpret are kept in `extra` so that
//! `inspect` gives back what the client sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub type Labels = BTreeMap<String, String>;
pub type Extra = serde_json::Map<String, Value>;

/// `Cmd`, `Entrypoint` and `Shell` may be a string (old clients) or a list.
fn str_or_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrOrVec {
        S(String),
        V(Vec<String>),
    }
    Ok(match Option::<StrOrVec>::deserialize(d)? {
        None => None,
        Some(StrOrVec::S(s)) => Some(vec![s]),
        Some(StrOrVec::V(v)) => Some(v),
    })
}

fn console_size() -> [u32; 2] {
    [0, 0]
}

/// `null` where a value is expected means "unset", as in Go's pointers
/// (docker-compose 1.x sends `"Gateway": null` for a pool without one).
pub(crate) fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The `PATH` a container, or a build stage, gets when its image sets none
/// (dockerd's `DefaultPathEnv` on Linux).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    #[serde(default)]
    pub test: Option<Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub interval: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub timeout: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub retries: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub start_period: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub start_interval: i64,
}

/// The `Config` of a container (create body and inspect).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub attach_stdin: bool,
    #[serde(default)]
    pub attach_stdout: bool,
    #[serde(default)]
    pub attach_stderr: bool,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub open_stdin: bool,
    #[serde(default)]
    pub stdin_once: bool,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default, deserialize_with = "str_or_vec")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub working_dir: String,
    #[serde(default, deserialize_with = "str_or_vec")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "str_or_vec"
    )]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(default, rename = "Type")]
    pub kind: String,
    #[serde(default)]
    pub config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    #[serde(default)]
    pub binds: Option<Vec<String>>,
    #[serde(default)]
    pub log_config: LogConfig,
    #[serde(default)]
    pub network_mode: String,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(default)]
    pub cap_add: Option<Vec<String>>,
    #[serde(default)]
    pub cap_drop: Option<Vec<String>>,
    #[serde(default)]
    pub dns: Option<Vec<String>>,
    #[serde(default)]
    pub dns_search: Option<Vec<String>>,
    #[serde(default)]
    pub extra_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub readonly_rootfs: bool,
    #[serde(default)]
    pub runtime: String,
    #[serde(default)]
    pub init: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_shares: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory_swap: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory_reservation: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub nano_cpus: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_period: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_quota: i64,
    #[serde(default)]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub cpuset_mems: String,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub shm_size: i64,
    /// `"80/tcp"` → host bindings (`-p`).
    #[serde(default)]
    pub port_bindings: Option<BTreeMap<String, Option<Vec<crate::network::PortBinding>>>>,
    /// `-P`: every exposed port on an ephemeral host port.
    #[serde(default)]
    pub publish_all_ports: bool,
    #[serde(default)]
    pub dns_options: Option<Vec<String>>,
    /// `--security-opt`: `seccomp=…`, `no-new-privileges[:true|false]`,
    /// `apparmor=…`, `label=…`.
    #[serde(default)]
    pub security_opt: Option<Vec<String>>,
    /// `private`, `host`, or empty for the daemon's default.
    #[serde(default)]
    pub cgroupns_mode: String,
    #[serde(default)]
    pub ulimits: Option<Vec<Ulimit>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub oom_score_adj: i64,
    #[serde(default)]
    pub sysctls: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub devices: Option<Vec<DeviceMapping>>,
    #[serde(default)]
    pub device_cgroup_rules: Option<Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub blkio_weight: i64,
    #[serde(default)]
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    #[serde(default, rename = "BlkioDeviceReadBps")]
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    #[serde(default, rename = "BlkioDeviceWriteBps")]
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(default, rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(default, rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    #[serde(default)]
    pub memory_swappiness: Option<i64>,
    #[serde(default)]
    pub ipc_mode: String,
    #[serde(default)]
    pub pid_mode: String,
    #[serde(default, rename = "UTSMode")]
    pub uts_mode: String,
    #[serde(default)]
    pub userns_mode: String,
    /// Supplementary groups, by number or by name in the container's /etc/group.
    #[serde(default)]
    pub group_add: Option<Vec<String>>,
    /// Legacy links, `/target:/self/alias` once created.
    #[serde(default)]
    pub links: Option<Vec<String>>,
    /// Paths hidden and made read-only in the container; dockerd's defaults
    /// unless privileged (filled in at create, as dockerd does).
    #[serde(default)]
    pub masked_paths: Option<Vec<String>>,
    #[serde(default)]
    pub readonly_paths: Option<Vec<String>>,
    // What dockerd always shows in inspect, with the values Berth has for
    // them (Windows and realtime knobs, fields Berth does not use).
    #[serde(default)]
    pub cgroup: String,
    #[serde(default)]
    pub cgroup_parent: String,
    #[serde(default = "console_size")]
    pub console_size: [u32; 2],
    #[serde(default, rename = "ContainerIDFile")]
    pub container_id_file: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_count: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_percent: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_realtime_period: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_realtime_runtime: i64,
    #[serde(default)]
    pub device_requests: Option<Vec<Value>>,
    #[serde(
        default,
        rename = "IOMaximumBandwidth",
        deserialize_with = "null_as_default"
    )]
    pub io_maximum_bandwidth: i64,
    #[serde(
        default,
        rename = "IOMaximumIOps",
        deserialize_with = "null_as_default"
    )]
    pub io_maximum_iops: i64,
    #[serde(default)]
    pub isolation: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub oom_kill_disable: bool,
    #[serde(default)]
    pub volume_driver: String,
    #[serde(default)]
    pub volumes_from: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `--ulimit name=soft[:hard]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub soft: i64,
    #[serde(default)]
    pub hard: i64,
}

/// `--device host[:container[:rwm]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    #[serde(default)]
    pub path_on_host: String,
    #[serde(default)]
    pub path_in_container: String,
    #[serde(default)]
    pub cgroup_permissions: String,
}

/// `--blkio-weight-device path:weight`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct WeightDevice {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub weight: i64,
}

/// `--device-read-bps path:rate` and its siblings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ThrottleDevice {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub rate: i64,
}

/// The body of `POST /containers/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreateBody {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub host_config: Option<HostConfig>,
    #[serde(default)]
    pub networking_config: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreateResponse {
    pub id: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i64,
    pub exit_code: i64,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `State.Health`: the healthcheck's verdict and its last results.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthcheckResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthcheckResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub name: String,
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: ContainerState,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriver,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub mounts: Vec<Value>,
    pub config: ContainerConfig,
    pub network_settings: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    pub command: String,
    pub created: i64,
    pub ports: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub labels: Labels,
    pub state: String,
    pub status: String,
    pub host_config: BTreeMap<String, String>,
    pub network_settings: Value,
    pub mounts: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerWaitResponse {
    pub status_code: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<WaitError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitError {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerTop {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// The `config` object inside an image's config file (PascalCase keys).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageRuntimeConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "str_or_vec"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "str_or_vec"
    )]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "str_or_vec"
    )]
    pub shell: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HistoryEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An OCI / Docker image config file: the JSON whose digest is the image ID.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: ImageRuntimeConfig,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    pub id: String,
    pub parent_id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub created: i64,
    pub size: i64,
    pub shared_size: i64,
    pub labels: Labels,
    pub containers: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    /// The image's runtime config with every key dockerd shows, set or not.
    pub config: Value,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub root_fs: ImageRootFs,
    pub metadata: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageRootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageHistoryItem {
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub tags: Vec<String>,
    pub size: i64,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDeleteItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImagePruneReport {
    pub images_deleted: Vec<ImageDeleteItem>,
    pub space_reclaimed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerPruneReport {
    pub containers_deleted: Vec<String>,
    pub space_reclaimed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SystemDf {
    pub layers_size: i64,
    pub images: Vec<ImageSummary>,
    pub containers: Vec<ContainerSummary>,
    pub volumes: Vec<Value>,
    pub build_cache: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_accepts_docker_cli_json() {
        let body = r#"{"Hostname":"","Env":null,"Cmd":["echo","hi"],"Image":"busybox","Entrypoint":null,
            "HostConfig":{"Memory":0,"PidsLimit":null,"NanoCpus":1000000000,"LogConfig":{"Type":"","Config":{}},
            "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"Mounts":[]},"NetworkingConfig":{"EndpointsConfig":{}}}"#;
        let b: ContainerCreateBody = serde_json::from_str(body).unwrap();
        assert_eq!(
            b.config.cmd.as_deref(),
            Some(&["echo".to_string(), "hi".to_string()][..])
        );
        let hc = b.host_config.unwrap();
        assert_eq!(hc.nano_cpus, 1_000_000_000);
        assert!(hc.extra.contains_key("Mounts"));
        let s: ContainerCreateBody = serde_json::from_str(r#"{"Image":"x","Cmd":"ls"}"#).unwrap();
        assert_eq!(s.config.cmd, Some(vec!["ls".to_string()]));
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(
            serde_json::from_str::<ContainerCreateBody>(r#"{"Image":"x","Tty":"yes"}"#).is_err()
        );
        assert!(serde_json::from_str::<ContainerCreateBody>(
            r#"{"Image":"x","HostConfig":{"Memory":"1g"}}"#
        )
        .is_err());
        assert!(serde_json::from_str::<ContainerCreateBody>(r#"{"Image":"x","Cmd":[1]}"#).is_err());
    }
}
