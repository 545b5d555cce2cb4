//! The bytes of a replicated command in a raft log entry: the leader's time when it proposed
//! the command, then the [`Proposal`] (who asked, their request id, the request).

use crate::wire::codec::{Reader, Writer};
use crate::wire::{Message, MessageRef, Proposal, ProposalRef, WireError};

/// A request as a proposal from `origin`, whose requests before `settled_below` are settled.
pub(crate) fn proposal(
    origin: &str,
    request_id: u32,
    settled_below: u32,
    request: &Message,
) -> Proposal {
    let mut payload = Vec::new();
    request.encode_payload(&mut payload);
    Proposal {
        origin: origin.to_owned(),
        request_id,
        settled_below,
        kind: request.get_message_kind(),
        payload,
    }
}

/// The length of [`encode`]'s output for `proposal`.
pub(crate) fn encoded_len(proposal: &Proposal) -> usize {
    // now_ms, then origin, request_id, settled_below, kind and payload with their prefixes.
    8 + 4 + proposal.origin.len() + 4 + 4 + 2 + 4 + proposal.payload.len()
}

/// Entry data for a proposal stamped with the leader's time.
pub(crate) fn encode(now_ms: u64, proposal: &Proposal) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + proposal.origin.len() + proposal.payload.len());
    let mut w = Writer::new(&mut out);
    w.u64(now_ms);
    w.put(proposal);
    out
}

/// A decoded entry: the stamped time, the proposal and its request, all borrowing the entry's
/// bytes (the state machine copies what it keeps).
pub(crate) struct Command<'a> {
    pub now_ms: u64,
    pub origin: &'a str,
    pub request_id: u32,
    pub settled_below: u32,
    pub request: MessageRef<'a>,
}

/// Decodes entry data in place: nothing is copied.
pub(crate) fn decode(data: &[u8]) -> Result<Command<'_>, WireError> {
    let mut r = Reader::new(data);
    let now_ms = r.u64("now_ms")?;
    let p: ProposalRef<'_> = r.get_ref::<Proposal>("proposal")?;
    r.finish()?;
    let request = MessageRef::decode_payload(p.kind, p.payload)?;
    Ok(Command {
        now_ms,
        origin: p.origin,
        request_id: p.request_id,
        settled_below: p.settled_below,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        let request = Message::CounterAddAndGetRequest {
            counter_name: "c".into(),
            delta: -3,
        };
        let p = proposal("node-a", 9, 8, &request);
        let data = encode(42, &p);
        assert_eq!(data.len(), encoded_len(&p));
        let c = decode(&data).unwrap();
        assert_eq!(
            (c.now_ms, c.origin, c.request_id, c.settled_below),
            (42, "node-a", 9, 8)
        );
        assert_eq!(c.request.to_owned(), request);
        assert!(decode(&data[..data.len() - 1]).is_err());
    }
}
