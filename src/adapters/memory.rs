//! In-process adapters for the local profile: one file per port.
//!
//! | file | implements |
//! |---|---|
//! | `memory/bus.rs` | `Bus` (a broadcast channel) |
//! | `memory/cache.rs` | `Cache` (a bounded map with per-entry expiry) |

pub mod bus;
pub mod cache;

pub use bus::MemoryBus;
pub use cache::MemoryCache;
