//! The generated host bindings, one per world of wit/policy.wit; the shared `types` interface is
//! generated once and reused. Named nowhere outside this crate: the engine's API speaks gitsync-core's
//! vocabulary (converted in `convert`) and re-exports the resource records as `gitsync_engine::wit`.

pub mod schema {
    // Serialize: `gitsync policy context` prints what a plugin receives as JSON.
    wasmtime::component::bindgen!({
        world: "schema-policy",
        path: "../../wit",
        additional_derives: [serde::Serialize],
    });
}
pub mod aliases {
    wasmtime::component::bindgen!({
        world: "aliases-policy",
        path: "../../wit",
        with: { "gitsync:policy/types": super::schema::gitsync::policy::types },
    });
}
pub mod deps {
    wasmtime::component::bindgen!({
        world: "deps-policy",
        path: "../../wit",
        with: { "gitsync:policy/types": super::schema::gitsync::policy::types },
    });
}
pub mod contracts {
    wasmtime::component::bindgen!({
        world: "contracts-policy",
        path: "../../wit",
        with: { "gitsync:policy/types": super::schema::gitsync::policy::types },
    });
}
pub mod workspace {
    wasmtime::component::bindgen!({
        world: "workspace-policy",
        path: "../../wit",
        with: { "gitsync:policy/types": super::schema::gitsync::policy::types },
    });
}
pub mod plugin {
    wasmtime::component::bindgen!({
        world: "plugin-policy",
        path: "../../wit",
        with: { "gitsync:policy/types": super::schema::gitsync::policy::types },
        additional_derives: [serde::Serialize],
    });
}
pub use schema::gitsync::policy::types;
