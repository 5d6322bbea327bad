//! redis adapter (being written).
