//! gitsync's domain logic, as plain Rust: the policy components in guest/ are thin adapters over it.
//!
//! - [`layout`]: the repository layout — kinds, folders, paths and slugs — defined once
//! - [`parse`]: files to typed [`resource`]s with spans ([`yaml`] keeps the places), the schema stage
//! - [`render`]: resources back to YAML
//! - [`aliases`]: alias maps and source/destination resolution per workspace
//! - [`deps`]: references between resources
//! - [`contracts`]: event contracts and event schemas
//! - [`workspace`]: what changes from Git, or made in the workspace, do to the workspace
//!
//! Every finding is a [`diag::Diagnostic`] with a stable code from [`diag::codes`].

pub mod aliases;
pub mod compare;
pub mod compat;
pub mod contracts;
pub mod cron;
pub mod deps;
pub mod diag;
pub mod events;
pub mod layout;
pub mod parse;
pub mod render;
pub mod resource;
pub mod slug;
pub mod suggest;
pub mod workspace;
pub mod yaml;

#[cfg(test)]
mod checks_tests;
