//! Benchmarks live under `benches/`. This library holds only the workspace
//! README's quick start as a doctest: the README is outside every published
//! package, so no published crate may include it.

/// The workspace README's quick start, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;
