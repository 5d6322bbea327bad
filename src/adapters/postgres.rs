//! postgres adapter (being written).
