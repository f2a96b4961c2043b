//! Container life cycle, one file per operation.

pub mod archive;
pub mod attach;
pub mod confinement;
pub mod create;
pub mod exec;
pub mod files;
pub mod health;
pub mod inspect;
pub mod kill;
pub mod list;
pub mod logs;
pub mod monitor;
pub mod mounts;
pub mod pause;
pub mod prune;
pub mod record;
pub mod remove;
pub mod rename;
pub mod start;
pub mod state;
pub mod stats;
pub mod stop;
pub mod top;
pub mod update;
pub mod userns;
pub mod wait;
