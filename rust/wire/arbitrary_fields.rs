//! proptest strategies for every field type a message can hold.

use proptest::prelude::*;

use super::{MapEntry, Proposal, RegistrationInfo};

pub(crate) trait Arb: Sized {
    fn arb() -> BoxedStrategy<Self>;
}

macro_rules! arb_any {
    ($($t:ty),*) => {$(
        impl Arb for $t {
            fn arb() -> BoxedStrategy<Self> {
                any::<$t>().boxed()
            }
        }
    )*};
}

arb_any!(u16, u32, u64, i64, bool);

impl Arb for String {
    fn arb() -> BoxedStrategy<Self> {
        ".{0,12}".boxed()
    }
}

impl Arb for Vec<u8> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(any::<u8>(), 0..24).boxed()
    }
}

impl<T: Arb + std::fmt::Debug + 'static> Arb for Option<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(T::arb()).boxed()
    }
}

impl Arb for Vec<String> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(String::arb(), 0..4).boxed()
    }
}

impl Arb for Vec<Vec<u8>> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(Vec::<u8>::arb(), 0..4).boxed()
    }
}

impl Arb for RegistrationInfo {
    fn arb() -> BoxedStrategy<Self> {
        (String::arb(), any::<u64>(), any::<bool>())
            .prop_map(|(node_id, seq, local_only)| RegistrationInfo {
                node_id,
                seq,
                local_only,
            })
            .boxed()
    }
}

impl Arb for Vec<RegistrationInfo> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(RegistrationInfo::arb(), 0..4).boxed()
    }
}

impl Arb for MapEntry {
    fn arb() -> BoxedStrategy<Self> {
        (Vec::<u8>::arb(), Vec::<u8>::arb())
            .prop_map(|(key, value)| MapEntry { key, value })
            .boxed()
    }
}

impl Arb for Vec<MapEntry> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::collection::vec(MapEntry::arb(), 0..4).boxed()
    }
}

impl Arb for Vec<Proposal> {
    fn arb() -> BoxedStrategy<Self> {
        let one = (
            String::arb(),
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            Vec::<u8>::arb(),
        )
            .prop_map(
                |(origin, request_id, settled_below, kind, payload)| Proposal {
                    origin,
                    request_id,
                    settled_below,
                    kind,
                    payload,
                },
            );
        proptest::collection::vec(one, 0..4).boxed()
    }
}
