//! The checks: reading a repository (working tree, revision, the changes between two revisions) and
//! the pipelines of `validate`, `check` and `events validate` over the engine's components.

pub mod events;
pub mod repo;
pub mod validate;

pub use validate::{
    CheckOutcome, Extensions, PluginInputs, ValidateOptions, Validation, check, plugin_inputs, resources, validate,
    validate_with_changes,
};
