//! Gantry: a hyper gateway in front of supervised ractor actors.
pub mod adapters;
