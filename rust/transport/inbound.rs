//! One accepted connection: the responder's handshake, then records opened into frames.
//!
//! Invariants: nothing the peer sends is parsed as a frame before the handshake authenticated it
//! (see `secure.rs`). Until then the connection holds at most [`HANDSHAKE_RECORD_LIMIT`] bytes of
//! input; after, one record (64 KiB) of ciphertext and the plaintext of one frame in progress,
//! whose declared size `frame_size` has already checked against the maximum, so a peer cannot
//! make us allocate more by lying in a header. After the first malformed frame or record the
//! stream cannot be resynchronised: the caller closes the connection.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use super::secure::{
    record_len, HandshakeError, Identity, Opener, RecordRejected, Responder, ResponderStep,
    HANDSHAKE_RECORD_LIMIT, MAX_RECORD_BODY, RECORD_HEADER,
};
use crate::wire::{frame_size, FramedMessage, Message, WireError};

/// The plaintext buffer an authenticated connection starts with: room for many small frames.
const INITIAL_FRAME_BUFFER: usize = 64 * 1024;
/// A plaintext buffer grown for a large frame is given back once empty if it exceeds this, so a
/// connection that once carried a big snapshot does not keep megabytes for its pings.
const RETAINED_FRAME_BUFFER: usize = 1024 * 1024;
/// Ciphertext room of an authenticated connection: exactly one record of the largest size.
const RECORD_BUFFER: usize = RECORD_HEADER + MAX_RECORD_BODY;

/// How reading ended.
pub(super) enum ReadOutcome {
    /// The socket has no more bytes for now: wait for the next readable event.
    Open,
    /// The peer closed the connection.
    Closed,
    /// The handshake failed (a refusal was sent when the peer can be told).
    Refused(HandshakeError),
    /// A record failed authentication after the handshake.
    Rejected(RecordRejected),
    /// A frame could not be decoded; the connection must be closed.
    Malformed(WireError),
    Failed(io::Error),
}

/// Bytes received and not yet consumed: `buf[start..end]`.
struct Buffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buffer {
    fn with_len(len: usize) -> Buffer {
        Buffer {
            buf: vec![0; len],
            start: 0,
            end: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room for at least `n` more bytes at the end: moves the unconsumed bytes to the front,
    /// then grows if that is not enough.
    fn reserve(&mut self, n: usize) -> &mut [u8] {
        if self.buf.len() - self.end < n && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < n {
            self.buf.resize(self.end + n, 0);
        }
        &mut self.buf[self.end..]
    }

    /// The free space at the end, after moving unconsumed bytes to the front when it is full.
    fn spare(&mut self) -> &mut [u8] {
        if self.end == self.buf.len() && self.start > 0 {
            self.reserve(1);
        }
        &mut self.buf[self.end..]
    }
}

enum Phase {
    Handshake(Responder),
    Open(Opener),
}

pub(super) struct InboundConnection {
    pub(super) stream: TcpStream,
    /// The peer's ephemeral address, not its listen address.
    pub(super) remote: SocketAddr,
    /// When the connection was accepted: the handshake deadline counts from here.
    pub(super) accepted_at: Instant,
    /// When bytes last arrived; a connection silent for the idle timeout is closed.
    pub(super) last_received: Instant,
    phase: Phase,
    /// Ciphertext (or handshake records) received and not yet opened.
    records: Buffer,
    /// Opened plaintext: frames, the last one possibly incomplete. Empty until authenticated.
    frames: Buffer,
    /// The handshake answer, and how much of it the socket took.
    reply: Vec<u8>,
    reply_written: usize,
}

impl InboundConnection {
    pub(super) fn new(stream: TcpStream, remote: SocketAddr, now: Instant) -> Self {
        InboundConnection {
            stream,
            remote,
            accepted_at: now,
            last_received: now,
            phase: Phase::Handshake(Responder::new()),
            records: Buffer::with_len(HANDSHAKE_RECORD_LIMIT),
            frames: Buffer::with_len(0),
            reply: Vec::new(),
            reply_written: 0,
        }
    }

    /// Whether the peer completed the handshake.
    pub(super) fn is_authenticated(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    /// Writes what remains of the handshake answer, then reads until the socket would block
    /// (edge-triggered: no further event comes for bytes already waiting), handing every
    /// complete frame to `deliver` in stream order.
    pub(super) fn on_ready(
        &mut self,
        identity: &Identity,
        max_frame_size: usize,
        now: Instant,
        mut deliver: impl FnMut(FramedMessage<Message>),
    ) -> ReadOutcome {
        if let Err(error) = self.write_reply() {
            return ReadOutcome::Failed(error);
        }
        loop {
            let spare = self.records.spare();
            if spare.is_empty() {
                // Unreachable: a full buffer holds a complete record (the record limit equals
                // the buffer's size), and records are consumed as they complete.
                return ReadOutcome::Refused(HandshakeError::TooLarge(self.records.buf.len()));
            }
            match self.stream.read(spare) {
                Ok(0) => return ReadOutcome::Closed,
                Ok(count) => {
                    self.records.end += count;
                    self.last_received = now;
                    if let Some(outcome) = self.take_records(identity, max_frame_size, &mut deliver)
                    {
                        return outcome;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return ReadOutcome::Open
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return ReadOutcome::Failed(error),
            }
        }
    }

    /// Handles every complete record; `Some` when the connection must close.
    fn take_records(
        &mut self,
        identity: &Identity,
        max_frame_size: usize,
        deliver: &mut impl FnMut(FramedMessage<Message>),
    ) -> Option<ReadOutcome> {
        loop {
            let limit = self.records.buf.len();
            let len = match record_len(self.records.filled(), limit) {
                Ok(Some(len)) => len,
                Ok(None) => return None,
                Err(error) => return Some(self.refuse(error)),
            };
            let body = self.records.start + RECORD_HEADER..self.records.start + len;
            match &mut self.phase {
                Phase::Handshake(responder) => {
                    match responder.step(identity, &self.records.buf[body]) {
                        Ok(ResponderStep::Continue) => self.records.consume(len),
                        Ok(ResponderStep::Reply(bytes)) => {
                            self.records.consume(len);
                            self.reply = bytes;
                            self.reply_written = 0;
                            if let Err(error) = self.write_reply() {
                                return Some(ReadOutcome::Failed(error));
                            }
                        }
                        Ok(ResponderStep::Authenticated(opener)) => {
                            self.phase = Phase::Open(opener);
                            self.reply = Vec::new();
                            self.records.consume(len);
                            self.records.reserve(RECORD_BUFFER);
                            self.frames = Buffer::with_len(INITIAL_FRAME_BUFFER);
                        }
                        Err(error) => return Some(self.refuse(error)),
                    }
                }
                Phase::Open(opener) => {
                    let body = &self.records.buf[body];
                    let room = self.frames.reserve(Opener::plaintext_len(body.len()));
                    match opener.open(body, room) {
                        Ok(opened) => self.frames.end += opened,
                        Err(rejected) => return Some(ReadOutcome::Rejected(rejected)),
                    }
                    self.records.consume(len);
                    if let Err(error) = self.split_frames(max_frame_size, deliver) {
                        return Some(ReadOutcome::Malformed(error));
                    }
                }
            }
        }
    }

    /// Tells the peer why (one write, best effort: the connection closes either way).
    fn refuse(&mut self, error: HandshakeError) -> ReadOutcome {
        if !self.is_authenticated() {
            if let Some(refusal) = error.refusal() {
                let _ = self.stream.write(&refusal);
            }
        }
        ReadOutcome::Refused(error)
    }

    fn write_reply(&mut self) -> io::Result<()> {
        while self.reply_written < self.reply.len() {
            match self.stream.write(&self.reply[self.reply_written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(count) => self.reply_written += count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Decodes every complete frame of the opened plaintext.
    fn split_frames(
        &mut self,
        max_frame_size: usize,
        deliver: &mut impl FnMut(FramedMessage<Message>),
    ) -> Result<(), WireError> {
        loop {
            let available = self.frames.filled();
            let Some(size) = frame_size(available, max_frame_size)? else {
                break;
            };
            if available.len() < size {
                break;
            }
            let frame = FramedMessage::decode(&available[..size], max_frame_size)?;
            self.frames.consume(size);
            deliver(frame);
        }
        if self.frames.start == self.frames.end && self.frames.buf.len() > RETAINED_FRAME_BUFFER {
            self.frames = Buffer::with_len(INITIAL_FRAME_BUFFER);
        }
        Ok(())
    }
}
