//! Engine API v1.47 types, the API error with its HTTP status, version
//! negotiation and image reference parsing. No I/O lives here.

pub mod detach;
pub mod error;
pub mod filters;
pub mod network;
pub mod reference;
pub mod types;
pub mod units;
pub mod version;

pub use error::{ApiError, ErrorKind};
pub use reference::ImageRef;
