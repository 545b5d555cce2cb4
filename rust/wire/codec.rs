//! Field encoding for message payloads: little-endian integers, length-prefixed strings and
//! byte strings, tagged options and counted sequences.
//!
//! Invariants: decoding never panics and never trusts a length. Every length is checked against
//! the bytes that remain before anything is read or allocated, so a claimed length of 4 GiB in a
//! 40-byte frame is an error, not an allocation. The same primitives serve the state machine's
//! snapshots, so there is one byte layout in the crate.
//!
//! Every field type also decodes borrowed ([`FieldRef`]): strings as `&str` and byte strings as
//! `&[u8]` pointing into the payload, so a borrowed message costs no allocation. Messages decode
//! owned through the borrowed path (see `MessageRef`); the owned [`Field::decode`] below is kept
//! written on its own, for snapshots and as the independent oracle of the property tests.

use super::WireError;

/// Appends encoded fields to a byte buffer.
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    #[inline]
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Writer { buf }
    }

    #[inline]
    pub fn put<T: Field + ?Sized>(&mut self, value: &T) {
        value.encode(self);
    }

    #[inline]
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    #[inline]
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A length prefix. Lengths above `u32::MAX` cannot occur: frames are capped far below it.
    #[inline]
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("length fits the u32 prefix"));
    }

    #[inline]
    pub fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.buf.extend_from_slice(v);
    }
}

/// Reads fields from a byte slice, failing with a [`WireError`] that names the field.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Fails unless every byte was consumed: trailing garbage is a malformed payload.
    #[inline]
    pub fn finish(&self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::TrailingBytes(n)),
        }
    }

    #[inline(always)]
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::FieldTooLong {
                field,
                claimed: n,
                available: self.remaining(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    #[inline(always)]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    #[inline(always)]
    pub fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(field)?[0])
    }

    #[inline(always)]
    pub fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    #[inline(always)]
    pub fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    #[inline(always)]
    pub fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A length prefix, checked against what remains assuming each item takes at least
    /// `min_item_size` bytes; a larger claim cannot be satisfied and is rejected up front.
    #[inline(always)]
    pub fn len(&mut self, field: &'static str, min_item_size: usize) -> Result<usize, WireError> {
        let n = self.u32(field)? as usize;
        let needed = n.saturating_mul(min_item_size.max(1));
        if needed > self.remaining() {
            return Err(WireError::FieldTooLong {
                field,
                claimed: needed,
                available: self.remaining(),
            });
        }
        Ok(n)
    }

    #[inline(always)]
    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        let n = self.len(field, 1)?;
        self.take(n, field)
    }

    #[inline]
    pub fn get<T: Field>(&mut self, field: &'static str) -> Result<T, WireError> {
        T::decode(self, field)
    }

    /// Decodes a field as its borrowed view ([`FieldRef::Ref`]), pointing into the data.
    #[inline(always)]
    pub fn get_ref<T: FieldRef>(&mut self, field: &'static str) -> Result<T::Ref<'a>, WireError> {
        T::decode_ref(self, field)
    }
}

/// A value that can be written to and read from a payload.
pub trait Field {
    /// The fewest bytes an encoded value can take; bounds sequence lengths before allocating.
    const MIN_SIZE: usize;
    fn encode(&self, w: &mut Writer<'_>);
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError>
    where
        Self: Sized;
}

macro_rules! int_field {
    ($($t:ty => $size:expr, $write:ident, $read:ident, $cast:ty;)*) => {$(
        impl Field for $t {
            const MIN_SIZE: usize = $size;
            #[inline]
            fn encode(&self, w: &mut Writer<'_>) {
                w.$write(*self as $cast);
            }
            #[inline]
            fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
                Ok(r.$read(field)? as $t)
            }
        }
    )*};
}

int_field! {
    u8 => 1, u8, u8, u8;
    u16 => 2, u16, u16, u16;
    u32 => 4, u32, u32, u32;
    u64 => 8, u64, u64, u64;
    i64 => 8, u64, u64, u64;
}

impl Field for bool {
    const MIN_SIZE: usize = 1;
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(u8::from(*self));
    }
    #[inline]
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
        match r.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(WireError::BadTag { field, tag }),
        }
    }
}

impl Field for String {
    const MIN_SIZE: usize = 4;
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(self.as_bytes());
    }
    #[inline]
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
        let raw = r.bytes(field)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| WireError::BadUtf8(field))
    }
}

/// `Vec<u8>` is a byte string (one length prefix, then the bytes), not a sequence of `u8` fields.
impl Field for Vec<u8> {
    const MIN_SIZE: usize = 4;
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(self);
    }
    #[inline]
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
        Ok(r.bytes(field)?.to_vec())
    }
}

impl<T: Field> Field for Option<T> {
    const MIN_SIZE: usize = 1;
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                v.encode(w);
            }
        }
    }
    #[inline]
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
        match r.u8(field)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(r, field)?)),
            tag => Err(WireError::BadTag { field, tag }),
        }
    }
}

/// A counted sequence of structured items (byte strings use `Vec<u8>` above instead).
pub trait SeqItem: Field {}

impl SeqItem for String {}
impl SeqItem for Vec<u8> {}
impl SeqItem for u64 {}

impl<T: SeqItem> Field for Vec<T> {
    const MIN_SIZE: usize = 4;
    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        w.len(self.len());
        for item in self {
            item.encode(w);
        }
    }
    #[inline]
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
        let n = r.len(field, T::MIN_SIZE)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(T::decode(r, field)?);
        }
        Ok(out)
    }
}

/// A field that also decodes as a view borrowing the payload: `String` as `&str`, `Vec<u8>` as
/// `&[u8]`, an option or a [`wire_struct!`] of those as the same shape of views, integers and
/// bools as themselves. Counted sequences have no borrowed form: their view is the owned list.
///
/// `decode_ref` reads and checks exactly what [`Field::decode`] does, in the same order, so both
/// give the same result or the same error for any bytes; `into_owned` then equals what
/// `Field::decode` would have returned.
pub trait FieldRef: Field {
    /// The borrowed view of a decoded value.
    type Ref<'a>;
    fn decode_ref<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<Self::Ref<'a>, WireError>;
    /// The owned value a view stands for.
    fn into_owned(view: Self::Ref<'_>) -> Self;
}

/// Types whose view is the value itself: integers, bools and counted sequences.
macro_rules! owned_view {
    ($([$($generics:tt)*] $t:ty;)*) => {$(
        impl<$($generics)*> FieldRef for $t {
            type Ref<'a> = $t;
            #[inline]
            fn decode_ref<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<$t, WireError> {
                <$t as Field>::decode(r, field)
            }
            #[inline]
            fn into_owned(view: $t) -> $t {
                view
            }
        }
    )*};
}

owned_view! {
    [] u8;
    [] u16;
    [] u32;
    [] u64;
    [] i64;
    [] bool;
    [T: SeqItem] Vec<T>;
}

impl FieldRef for String {
    type Ref<'a> = &'a str;
    #[inline(always)]
    fn decode_ref<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a str, WireError> {
        let raw = r.bytes(field)?;
        std::str::from_utf8(raw).map_err(|_| WireError::BadUtf8(field))
    }
    #[inline]
    fn into_owned(view: &str) -> String {
        view.to_owned()
    }
}

impl FieldRef for Vec<u8> {
    type Ref<'a> = &'a [u8];
    #[inline(always)]
    fn decode_ref<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8], WireError> {
        r.bytes(field)
    }
    #[inline]
    fn into_owned(view: &[u8]) -> Vec<u8> {
        view.to_vec()
    }
}

impl<T: FieldRef> FieldRef for Option<T> {
    type Ref<'a> = Option<T::Ref<'a>>;
    #[inline]
    fn decode_ref<'a>(
        r: &mut Reader<'a>,
        field: &'static str,
    ) -> Result<Option<T::Ref<'a>>, WireError> {
        match r.u8(field)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode_ref(r, field)?)),
            tag => Err(WireError::BadTag { field, tag }),
        }
    }
    #[inline]
    fn into_owned(view: Option<T::Ref<'_>>) -> Option<T> {
        view.map(T::into_owned)
    }
}

/// Declares a plain struct whose fields are encoded in declaration order, and its borrowed view
/// (named after `borrowed`) whose fields are the fields' [`FieldRef`] views.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }
        borrowed $ref_name:ident;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty,)* }

        #[doc = concat!("A [`", stringify!($name), "`] borrowing the bytes it was decoded from.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ref_name<'a> {
            $($(#[$fmeta])* pub $field: <$ty as $crate::wire::codec::FieldRef>::Ref<'a>,)*
        }

        impl $ref_name<'_> {
            #[doc = concat!("The owned [`", stringify!($name), "`] this view stands for.")]
            pub fn to_owned(&self) -> $name {
                <$name as $crate::wire::codec::FieldRef>::into_owned(self.clone())
            }
        }

        impl $crate::wire::codec::Field for $name {
            const MIN_SIZE: usize = 0 $(+ <$ty as $crate::wire::codec::Field>::MIN_SIZE)*;
            #[inline]
            fn encode(&self, w: &mut $crate::wire::codec::Writer<'_>) {
                $(w.put(&self.$field);)*
            }
            #[inline]
            fn decode(
                r: &mut $crate::wire::codec::Reader<'_>,
                _field: &'static str,
            ) -> Result<Self, $crate::wire::WireError> {
                Ok($name { $($field: r.get(stringify!($field))?,)* })
            }
        }

        impl $crate::wire::codec::FieldRef for $name {
            type Ref<'a> = $ref_name<'a>;
            #[inline]
            fn decode_ref<'a>(
                r: &mut $crate::wire::codec::Reader<'a>,
                _field: &'static str,
            ) -> Result<$ref_name<'a>, $crate::wire::WireError> {
                Ok($ref_name { $($field: r.get_ref::<$ty>(stringify!($field))?,)* })
            }
            #[inline]
            fn into_owned(view: $ref_name<'_>) -> $name {
                $name {
                    $($field: <$ty as $crate::wire::codec::FieldRef>::into_owned(view.$field),)*
                }
            }
        }

        impl $crate::wire::codec::SeqItem for $name {}
    };
}
pub(crate) use wire_struct;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_claim_beyond_the_data_is_rejected_before_allocating() {
        let mut buf = Vec::new();
        Writer::new(&mut buf).u32(u32::MAX);
        buf.extend_from_slice(b"abc");
        let err = Reader::new(&buf).get::<Vec<Vec<u8>>>("keys").unwrap_err();
        assert!(
            matches!(err, WireError::FieldTooLong { field: "keys", .. }),
            "{err}"
        );
    }

    #[test]
    fn option_and_bool_reject_unknown_tags() {
        let err = Reader::new(&[2]).get::<bool>("flag").unwrap_err();
        assert_eq!(
            err,
            WireError::BadTag {
                field: "flag",
                tag: 2
            }
        );
        let err = Reader::new(&[7]).get::<Option<u64>>("ttl").unwrap_err();
        assert_eq!(
            err,
            WireError::BadTag {
                field: "ttl",
                tag: 7
            }
        );
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut buf = Vec::new();
        Writer::new(&mut buf).bytes(&[0xff, 0xfe]);
        let err = Reader::new(&buf).get::<String>("name").unwrap_err();
        assert_eq!(err, WireError::BadUtf8("name"));
    }

    #[test]
    fn fields_round_trip() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        w.put(&-5i64);
        w.put(&Some(b"v".to_vec()));
        w.put(&vec!["a".to_string(), "bc".to_string()]);
        let mut r = Reader::new(&buf);
        assert_eq!(r.get::<i64>("a").unwrap(), -5);
        assert_eq!(r.get::<Option<Vec<u8>>>("b").unwrap(), Some(b"v".to_vec()));
        assert_eq!(r.get::<Vec<String>>("c").unwrap(), vec!["a", "bc"]);
        r.finish().unwrap();
    }
}
