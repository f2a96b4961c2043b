//! The image side of Berth: a content-addressed blob store, layer snapshots
//! (each layer unpacked once, shared by every image that has it), overlayfs
//! mounts, and the SQLite metadata database; `Store` opens them together.

pub mod archive;
pub mod blobs;
pub mod digest;
pub mod error;
pub mod images;
pub mod layer;
pub mod metadata;
pub mod overlay;
pub mod snapshots;
pub mod store;

pub use blobs::BlobStore;
pub use digest::Digest;
pub use error::StoreError;
pub use images::{ImageRecord, ImageStore};
pub use metadata::Metadata;
pub use snapshots::Snapshots;
pub use store::Store;
