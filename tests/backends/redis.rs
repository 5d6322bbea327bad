//! redis backend suite (being written).
