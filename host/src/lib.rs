//! gitsync's host: all Git and file I/O, the WebAssembly runtime, the pipeline that hands bytes to
//! the policy components, and the reporters. It never parses a resource itself.

pub mod cli;
pub mod events;
mod failpoint;
pub mod pipeline;
pub mod plugins;
pub mod policy;
pub mod repo;
pub mod report;
pub mod runtime;
pub mod scaffold;
pub mod store;
pub mod sync;
mod workspace_cli;
