//! fs adapter (being written).
