//! postgres backend suite (being written).
