//! Where the kernel starts: OCI runtime specs, namespaces, cgroups (v1, v2
//! and the hybrid layout), the per-container supervisor (`berth-shim`), the
//! json-file logs, stats and process listings. Knows nothing of HTTP.

pub mod cgroups;
pub mod error;
pub mod frames;
pub mod logs;
pub mod seccomp;
pub mod shim;
pub mod signal;
pub mod spec;
pub mod supervisor;
pub mod user;
pub mod userns;

pub use error::RuntimeError;
