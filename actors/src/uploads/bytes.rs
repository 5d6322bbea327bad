//! The byte path of uploads and downloads: the one deliberate exception to "state is reached only through its
//! owner". An upload's bytes stream from the request straight into the object store (and a download's bytes
//! straight out of it) inside the request task: sending them through the upload pipeline's mailbox would copy
//! every chunk through a queue and serialise transfers behind one actor. The pipeline still owns everything
//! else about an upload (admission, records, jobs, finishing, deletion).
//!
//! [`ObjectBytes`] narrows the object store to exactly that path — write one object, read it (or a range),
//! presign a download — so the gateway cannot delete objects, probe health or swap credentials through it.

use std::sync::Arc;
use std::time::Duration;

use crate::ports::objects::ObjectStore;
pub use crate::ports::objects::{ByteRange, ByteStream, ObjectBody, ObjectKey, ObjectStoreError, StoredObject};

/// The object store, narrowed to streaming bytes in and out (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct ObjectBytes(Arc<dyn ObjectStore>);

impl std::fmt::Debug for ObjectBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ObjectBytes").field(&self.0.backend()).finish()
    }
}

impl ObjectBytes {
    /// The byte path of `store`.
    #[must_use]
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self(store)
    }

    /// Streams `body` into object `key`, all or nothing (see [`ObjectStore::put`] for `size_hint`).
    ///
    /// # Errors
    /// [`ObjectStoreError::BodyAborted`] when `body` yields an error; otherwise the store failed.
    pub async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        size_hint: Option<u64>,
        content_type: &str,
    ) -> Result<StoredObject, ObjectStoreError> {
        self.0.put(key, body, size_hint, content_type).await
    }

    /// Reads object `key`, or the `range` of it.
    ///
    /// # Errors
    /// [`ObjectStoreError::NotFound`]; otherwise the store failed.
    pub async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, ObjectStoreError> {
        self.0.get(key, range).await
    }

    /// A presigned download URL valid for about `ttl`, or `None` when the backend cannot presign.
    ///
    /// # Errors
    /// The store could not sign the request.
    pub async fn presigned_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
        content_type: &str,
        content_disposition: &str,
    ) -> Result<Option<String>, ObjectStoreError> {
        self.0.presigned_get(key, ttl, content_type, content_disposition).await
    }
}
