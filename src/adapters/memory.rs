//! memory adapter (being written).
