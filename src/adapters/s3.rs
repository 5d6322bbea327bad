//! s3 adapter (being written).
