//! s3 backend suite (being written).
