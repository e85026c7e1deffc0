//! The store conformance suite against the in-memory store: four clones of
//! one store stand in for four app instances.

mfa_flow::store_conformance_tests!(async {
    let store = mfa_flow::MemoryStore::new();
    vec![store.clone(), store.clone(), store.clone(), store]
});

/// Rows planted behind the service's back: each version up to the row's is
/// written in turn (a memory store takes only the next version).
#[tokio::test]
async fn corrupt_rows() {
    use mfa_flow::{Store, StoredRecord};
    let store = mfa_flow::MemoryStore::new();
    let plant = |user: String, version: u64, text: &'static str| {
        let store = store.clone();
        async move {
            for v in 1..=version {
                let saved = store
                    .save(&user, &StoredRecord::new(v, text.to_owned()))
                    .await;
                assert_eq!(saved.unwrap(), mfa_flow::Saved::Stored);
            }
        }
    };
    mfa_flow::conformance::corrupt_rows(&store, plant).await;
}
