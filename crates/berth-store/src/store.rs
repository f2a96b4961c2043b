//! The data root's stores behind one door: the images (blobs, snapshots,
//! their tables) and the documents of containers, networks and volumes,
//! over one SQLite database. The engine reaches each through its own field
//! here, never the other's.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::images::ImageStore;
use crate::metadata::Metadata;

pub struct Store {
    pub images: Arc<ImageStore>,
    /// Containers, networks and volumes, as documents the engine shapes.
    pub objects: Arc<Metadata>,
}

impl Store {
    pub fn open(data_root: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_root).map_err(StoreError::io("create data root"))?;
        let objects = Arc::new(Metadata::open(&data_root.join("metadata.db"))?);
        let images = Arc::new(ImageStore::open_with(data_root, objects.clone())?);
        Ok(Store { images, objects })
    }
}
