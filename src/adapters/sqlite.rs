//! sqlite adapter (being written).
