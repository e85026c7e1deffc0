//! The store conformance suite against the in-memory store: four clones of
//! one store stand in for four app instances.

mfa_flow::store_conformance_tests!(async {
    let store = mfa_flow::MemoryStore::new();
    vec![store.clone(), store.clone(), store.clone(), store]
});
