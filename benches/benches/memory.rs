//! Memory held per enrolled user in the in-memory store, measured with a
//! counting global allocator (`stats_alloc`): heap bytes still allocated after enrolling
//! 10,000 users through the service, divided by 10,000. Map growth is
//! included, amortised.
//!
//! Run with `cargo bench -p mfa-benches --bench memory`.

#![allow(clippy::expect_used, missing_docs)]

use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{AppKey, Keyring, ManualClock, MemoryStore, MfaConfig, MfaService};

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const USERS: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let clock = ManualClock::new(1_700_000_000);
    let service = MfaService::new(
        MemoryStore::new(),
        clock.clone(),
        Keyring::new(AppKey::from_bytes(1, &[7; 32]).expect("32 bytes")),
        MfaConfig::new("Memory"),
    );
    let ids: Vec<String> = (0..USERS).map(|i| format!("user-{i:08}")).collect();

    let region = Region::new(ALLOCATOR);
    runtime.block_on(async {
        for id in &ids {
            let ticket = service
                .begin_enrollment(id, "someone@example.com")
                .await
                .expect("enrollment starts");
            let app = Totp::new(
                TotpConfig::default(),
                &Secret::from_base32(ticket.expose_secret()).expect("base32"),
            );
            let code = app.generate(clock.now()).expect("after T0");
            assert!(
                service
                    .confirm_enrollment(id, code.as_str())
                    .await
                    .expect("store")
                    .is_accepted()
            );
        }
    });
    let change = region.change();
    assert_eq!(service.store().len(), USERS);
    // stats_alloc folds reallocations into these two counters already.
    let held = change.bytes_allocated as f64 - change.bytes_deallocated as f64;
    let per_user = held / USERS as f64;
    println!(
        "memory store: {per_user:.0} heap bytes per enrolled user \
         ({USERS} users, 10 recovery codes each, 13-byte user ids; \
         plus {} bytes of StoredRecord inline in each map slot, counted above)",
        std::mem::size_of::<mfa_flow::StoredRecord>()
    );
}
