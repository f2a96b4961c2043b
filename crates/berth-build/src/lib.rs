//! Dockerfile builds: the language (`dockerfile`, `words`), `.dockerignore`
//! (`ignore`), the build context and COPY/ADD (`context`), config-only
//! instructions (`config`, also `commit --change`), and the build itself (`builder`), which runs steps through a [`Backend`] the engine implements.

pub mod builder;
pub mod config;
pub mod context;
pub mod dockerfile;
pub mod error;
pub mod ignore;
pub mod words;

pub use builder::{build, Backend, Image, Options, Output, RunSpec};
pub use error::{BuildError, Result};
