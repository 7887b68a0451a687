//! The workspace: its store (SQLite, behind the `WorkspaceStore` trait) and the sync engine that
//! keeps it and a Git branch in step (docs/sync.md).

pub mod store;
pub mod sync;
