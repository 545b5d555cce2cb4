//! Scenario tests of counters (start at zero, wrap like Java longs, compare-and-set) and sets.

use super::*;

#[test]
fn counters_start_at_zero_and_wrap_like_java_longs() {
    let mut log = Log::new();
    assert_eq!(
        log.apply(CounterGetRequest {
            counter_name: "c".into()
        }),
        CounterGetResponse { value: 0 }
    );
    assert_eq!(
        log.apply(CounterAddAndGetRequest {
            counter_name: "c".into(),
            delta: i64::MAX
        }),
        CounterAddAndGetResponse { value: i64::MAX }
    );
    assert_eq!(
        log.apply(CounterGetAndAddRequest {
            counter_name: "c".into(),
            delta: 1
        }),
        CounterGetAndAddResponse { value: i64::MAX }
    );
    assert_eq!(
        log.apply(CounterGetRequest {
            counter_name: "c".into()
        }),
        CounterGetResponse { value: i64::MIN }
    );
    assert_eq!(
        log.apply(CounterCompareAndSetRequest {
            counter_name: "c".into(),
            expected: 0,
            value: 5
        }),
        CounterCompareAndSetResponse { swapped: false }
    );
    assert_eq!(
        log.apply(CounterCompareAndSetRequest {
            counter_name: "c".into(),
            expected: i64::MIN,
            value: 5
        }),
        CounterCompareAndSetResponse { swapped: true }
    );
    assert_eq!(
        log.apply(CreateCounterRequest { name: "c".into() }),
        CreateCounterResponse { value: 5 }
    );
}

#[test]
fn sets_hold_each_value_once() {
    let mut log = Log::new();
    let add = |v: &str| SetAddRequest {
        set_name: "s".into(),
        value: b(v),
    };
    assert_eq!(log.apply(add("x")), SetAddResponse { added: true });
    assert_eq!(log.apply(add("x")), SetAddResponse { added: false });
    log.apply(add("a"));
    assert_eq!(
        log.apply(SetMembersRequest {
            set_name: "s".into()
        }),
        SetMembersResponse {
            members: vec![b("a"), b("x")]
        }
    );
    assert_eq!(
        log.apply(SetRemoveRequest {
            set_name: "s".into(),
            value: b("x")
        }),
        SetRemoveResponse { removed: true }
    );
    assert_eq!(
        log.apply(SetContainsRequest {
            set_name: "s".into(),
            value: b("x")
        }),
        SetContainsResponse { contains: false }
    );
    assert_eq!(
        log.apply(SetSizeRequest {
            set_name: "s".into()
        }),
        SetSizeResponse { size: 1 }
    );
}
