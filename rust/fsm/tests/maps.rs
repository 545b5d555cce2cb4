//! Scenario tests of async maps: TTL expiry, plain puts and conditional writes against TTL
//! entries, and sorted listings that skip expired entries.

use super::*;

#[test]
fn ttl_entries_read_as_absent_once_due_and_expire_removes_them() {
    let mut log = Log::new();
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
        ttl_ms: 10,
    });
    assert_eq!(log.get("k"), Some(b("v")));
    log.now_ms += 10;
    assert_eq!(log.get("k"), None);
    assert_eq!(
        log.apply(MapSizeRequest {
            map_name: "m".into()
        }),
        MapSizeResponse { size: 0 }
    );
    assert_eq!(
        log.apply(ExpireRequest {}),
        ExpireResponse {
            expired_entries: 1,
            expired_waits: 0
        }
    );
}

#[test]
fn a_plain_put_after_a_ttl_put_keeps_the_entry() {
    let mut log = Log::new();
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
        ttl_ms: 10,
    });
    log.apply(MapPutRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("w"),
    });
    log.now_ms += 1_000;
    log.apply(ExpireRequest {});
    assert_eq!(log.get("k"), Some(b("w")));
}

#[test]
fn put_if_absent_with_ttl_leaves_an_existing_entry_untouched() {
    let mut log = Log::new();
    log.apply(MapPutRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("v"),
    });
    let r = log.apply(MapPutIfAbsentTtlRequest {
        map_name: "m".into(),
        key: b("k"),
        value: b("w"),
        ttl_ms: 10,
    });
    assert_eq!(
        r,
        MapPutIfAbsentTtlResponse {
            previous: Some(b("v"))
        }
    );
    log.now_ms += 1_000;
    log.apply(ExpireRequest {});
    assert_eq!(log.get("k"), Some(b("v")));
    let created = log.apply(MapPutIfAbsentTtlRequest {
        map_name: "m".into(),
        key: b("n"),
        value: b("w"),
        ttl_ms: 10,
    });
    assert_eq!(created, MapPutIfAbsentTtlResponse { previous: None });
    log.now_ms += 10;
    assert_eq!(log.get("n"), None);
}

#[test]
fn replace_variants_touch_only_live_entries() {
    let mut log = Log::new();
    let m = || "m".to_string();
    assert_eq!(
        log.apply(MapReplaceTtlRequest {
            map_name: m(),
            key: b("k"),
            value: b("v"),
            ttl_ms: 10
        }),
        MapReplaceTtlResponse { previous: None }
    );
    assert_eq!(log.get("k"), None, "replace creates nothing");
    log.apply(MapPutRequest {
        map_name: m(),
        key: b("k"),
        value: b("1"),
    });
    assert_eq!(
        log.apply(MapReplaceTtlRequest {
            map_name: m(),
            key: b("k"),
            value: b("2"),
            ttl_ms: 10
        }),
        MapReplaceTtlResponse {
            previous: Some(b("1"))
        }
    );
    log.now_ms += 10;
    assert_eq!(log.get("k"), None, "the replacement's TTL applies");
    assert_eq!(
        log.apply(MapReplaceIfPresentRequest {
            map_name: m(),
            key: b("k"),
            old_value: b("2"),
            new_value: b("3")
        }),
        MapReplaceIfPresentResponse { replaced: false },
        "an expired entry is not present"
    );
    log.apply(MapPutRequest {
        map_name: m(),
        key: b("k"),
        value: b("1"),
    });
    assert_eq!(
        log.apply(MapReplaceIfPresentTtlRequest {
            map_name: m(),
            key: b("k"),
            old_value: b("x"),
            new_value: b("3"),
            ttl_ms: 5
        }),
        MapReplaceIfPresentTtlResponse { replaced: false }
    );
    assert_eq!(
        log.apply(MapReplaceIfPresentTtlRequest {
            map_name: m(),
            key: b("k"),
            old_value: b("1"),
            new_value: b("3"),
            ttl_ms: 5
        }),
        MapReplaceIfPresentTtlResponse { replaced: true }
    );
    assert_eq!(log.get("k"), Some(b("3")));
    log.now_ms += 5;
    assert_eq!(log.get("k"), None);
}

#[test]
fn map_listings_are_sorted_and_skip_expired_entries() {
    let mut log = Log::new();
    for k in ["b", "c", "a"] {
        log.apply(MapPutRequest {
            map_name: "m".into(),
            key: b(k),
            value: b(&k.to_uppercase()),
        });
    }
    log.apply(MapPutTtlRequest {
        map_name: "m".into(),
        key: b("d"),
        value: b("D"),
        ttl_ms: 1,
    });
    log.now_ms += 1;
    assert_eq!(
        log.apply(MapKeysRequest {
            map_name: "m".into()
        }),
        MapKeysResponse {
            keys: vec![b("a"), b("b"), b("c")]
        }
    );
    assert_eq!(
        log.apply(MapValuesRequest {
            map_name: "m".into()
        }),
        MapValuesResponse {
            values: vec![b("A"), b("B"), b("C")]
        }
    );
    assert_eq!(
        log.apply(MapRemoveIfPresentRequest {
            map_name: "m".into(),
            key: b("a"),
            value: b("x")
        }),
        MapRemoveIfPresentResponse { removed: false }
    );
    assert_eq!(
        log.apply(MapRemoveIfPresentRequest {
            map_name: "m".into(),
            key: b("a"),
            value: b("A")
        }),
        MapRemoveIfPresentResponse { removed: true }
    );
    log.apply(MapClearRequest {
        map_name: "m".into(),
    });
    assert_eq!(
        log.apply(MapEntriesRequest {
            map_name: "m".into()
        }),
        MapEntriesResponse { entries: vec![] }
    );
}
