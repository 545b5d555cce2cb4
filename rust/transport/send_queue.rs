//! The bytes waiting to go to one destination: encoded frames in send order, with the frame
//! boundaries needed to resume after a broken connection.
//!
//! Invariants: `written <= bytes.len()`; `frame_start <= written` is the start of the first frame
//! not completely written, and `frame_ends` lists the ends of the frames after it. A new
//! connection resumes at `frame_start`, because the receiver drops a partial frame together with
//! the connection that carried it. Back-pressure counts `bytes.len() - written`.

use std::collections::VecDeque;

use super::SendError;
use crate::wire::{FramedMessage, Message};

/// Once this many written bytes lead the queue, and they are at least half of it, they are cut
/// off, so a queue that never fully drains still does not grow without bound.
const COMPACT_AFTER_BYTES: usize = 1024 * 1024;
/// A drained queue whose allocation grew past this (after a burst or a large frame) gives the
/// memory back instead of keeping it per destination forever.
const RETAINED_QUEUE_CAPACITY: usize = 4 * 1024 * 1024;

/// Encoded frames for one destination, not yet written.
pub(super) struct SendQueue {
    bytes: Vec<u8>,
    /// Bytes of `bytes` the socket has accepted.
    written: usize,
    /// Start of the first frame not completely written: where a new connection resumes.
    frame_start: usize,
    /// End offsets of the frames after `frame_start`, ascending.
    frame_ends: VecDeque<usize>,
}

impl SendQueue {
    pub(super) fn new() -> Self {
        SendQueue {
            bytes: Vec::new(),
            written: 0,
            frame_start: 0,
            frame_ends: VecDeque::new(),
        }
    }

    /// Bytes queued and not yet accepted by a socket: what back-pressure is measured on.
    pub(super) fn queued_bytes(&self) -> usize {
        self.bytes.len() - self.written
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queued_bytes() == 0
    }

    /// Appends one encoded frame. A frame is refused when it would take the queue beyond
    /// `max_buffered_bytes`, except into an empty queue, so that any frame the size limit allows
    /// can be sent at all.
    pub(super) fn push(
        &mut self,
        frame: &FramedMessage<Message>,
        max_frame_size: usize,
        max_buffered_bytes: usize,
    ) -> Result<(), SendError> {
        let queued = self.queued_bytes();
        if queued >= max_buffered_bytes && queued > 0 {
            return Err(SendError::Backpressure { queued });
        }
        let start = self.bytes.len();
        frame
            .encode_into(&mut self.bytes, max_frame_size)
            .map_err(SendError::Encode)?;
        if queued > 0 && queued + (self.bytes.len() - start) > max_buffered_bytes {
            self.bytes.truncate(start);
            return Err(SendError::Backpressure { queued });
        }
        self.frame_ends.push_back(self.bytes.len());
        Ok(())
    }

    pub(super) fn unwritten(&self) -> &[u8] {
        &self.bytes[self.written..]
    }

    pub(super) fn advance(&mut self, count: usize) {
        self.written += count;
        while let Some(&end) = self.frame_ends.front() {
            if end > self.written {
                break;
            }
            self.frame_start = end;
            self.frame_ends.pop_front();
        }
        if self.written == self.bytes.len() {
            self.clear();
        } else if self.frame_start >= COMPACT_AFTER_BYTES
            && self.frame_start * 2 >= self.bytes.len()
        {
            let cut = self.frame_start;
            self.bytes.drain(..cut);
            self.written -= cut;
            self.frame_start = 0;
            for end in &mut self.frame_ends {
                *end -= cut;
            }
        }
    }

    /// Forgets the partly written frame's written part, so the next connection sends it whole.
    pub(super) fn rewind_to_frame_start(&mut self) {
        self.written = self.frame_start;
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.written = 0;
        self.frame_start = 0;
        self.frame_ends.clear();
        if self.bytes.capacity() > RETAINED_QUEUE_CAPACITY {
            self.bytes = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(id: u32) -> FramedMessage<Message> {
        FramedMessage::request(id, Message::Ping { sent_at_micros: 0 })
    }

    fn frame_len() -> usize {
        ping(0).encode().unwrap().len()
    }

    #[test]
    fn a_broken_write_resumes_at_the_partly_written_frame() {
        let mut queue = SendQueue::new();
        for id in 0..3 {
            queue.push(&ping(id), 1024, 1024).unwrap();
        }
        queue.advance(frame_len() + 3);
        queue.rewind_to_frame_start();
        let mut rest = ping(1).encode().unwrap();
        rest.extend(ping(2).encode().unwrap());
        assert_eq!(queue.unwritten(), &rest[..]);
        queue.advance(rest.len());
        assert!(queue.is_empty());
    }

    #[test]
    fn the_queue_refuses_beyond_its_limit_but_always_takes_one_frame() {
        let mut queue = SendQueue::new();
        queue.push(&ping(0), 1024, 1).unwrap();
        assert_eq!(
            queue.push(&ping(1), 1024, 1),
            Err(SendError::Backpressure {
                queued: frame_len()
            })
        );
        assert_eq!(queue.queued_bytes(), frame_len());
    }

    #[test]
    fn a_queue_that_never_drains_is_compacted() {
        let mut queue = SendQueue::new();
        let per_frame = frame_len();
        let frames = COMPACT_AFTER_BYTES / per_frame + 2;
        for id in 0..frames as u32 {
            queue.push(&ping(id), 1024, usize::MAX).unwrap();
        }
        queue.advance((frames - 1) * per_frame);
        assert_eq!(queue.bytes.len(), per_frame, "written frames were cut off");
        queue.rewind_to_frame_start();
        assert_eq!(
            queue.unwritten(),
            &ping(frames as u32 - 1).encode().unwrap()[..]
        );
    }
}
