//! gitsync's host: all Git and file I/O, the pipelines that hand bytes to the policy components
//! (through `gitsync-engine`), the workspace and its sync engine, and the reporters. It never parses
//! a resource itself. The layers only point down:
//!
//! ```text
//! cli, serve ───────┬──────────────┐
//!   ▼               ▼              ▼
//! workspace       checks         report
//! (store, sync)   (repo, validate, check, events)
//!   └───────┬───────┘              │
//!           ▼                      │
//!   gitsync-engine (wasmtime, components, the WIT conversion)
//!           ▼                      ▼
//!   gitsync-core (Diagnostic, Severity, codes, layout)
//! ```
//!
//! docs/architecture.md says which layer owns what.

pub mod author;
pub mod checks;
mod cli;
mod duration;
mod failpoint;
pub mod report;
pub mod secret;
mod serve;
pub mod store;
pub mod workspace;

pub use cli::run;
