//! One accepted connection: reads the byte stream and splits it into frames.
//!
//! Invariants: `buf[start..end]` holds received bytes not yet consumed, beginning at a frame
//! boundary. The buffer grows only to hold one frame whose declared size `frame_size` has already
//! checked against the maximum, so a peer cannot make us allocate more than that by lying in a
//! header. After the first malformed frame the stream cannot be resynchronised: the caller closes
//! the connection.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use crate::wire::{frame_size, FramedMessage, Message, WireError};

/// The read buffer every connection starts with: room for many small frames per read call.
const INITIAL_READ_BUFFER: usize = 64 * 1024;
/// A buffer grown for a large frame is given back once empty if it exceeds this, so a connection
/// that once carried a big snapshot does not keep megabytes for its pings.
const RETAINED_READ_BUFFER: usize = 1024 * 1024;

/// How reading ended.
pub(super) enum ReadOutcome {
    /// The socket has no more bytes for now: wait for the next readable event.
    Open,
    /// The peer closed the connection.
    Closed,
    /// A frame could not be decoded; the connection must be closed.
    Malformed(WireError),
    Failed(io::Error),
}

pub(super) struct InboundConnection {
    pub(super) stream: TcpStream,
    /// The peer's ephemeral address, not its listen address: connections carry no handshake.
    pub(super) remote: SocketAddr,
    /// When bytes last arrived; a connection silent for the idle timeout is closed.
    pub(super) last_received: Instant,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl InboundConnection {
    pub(super) fn new(stream: TcpStream, remote: SocketAddr, now: Instant) -> Self {
        InboundConnection {
            stream,
            remote,
            last_received: now,
            buf: vec![0; INITIAL_READ_BUFFER],
            start: 0,
            end: 0,
        }
    }

    /// Reads until the socket would block (edge-triggered: no further event comes for bytes
    /// already waiting), handing every complete frame to `deliver` in stream order.
    pub(super) fn read_frames(
        &mut self,
        max_frame_size: usize,
        now: Instant,
        mut deliver: impl FnMut(FramedMessage<Message>),
    ) -> ReadOutcome {
        loop {
            if self.end == self.buf.len() {
                if let Err(error) = self.make_room(max_frame_size) {
                    return ReadOutcome::Malformed(error);
                }
            }
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return ReadOutcome::Closed,
                Ok(count) => {
                    self.end += count;
                    self.last_received = now;
                    if let Err(error) = self.split_frames(max_frame_size, &mut deliver) {
                        return ReadOutcome::Malformed(error);
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

    /// Decodes every complete frame in the buffer.
    fn split_frames(
        &mut self,
        max_frame_size: usize,
        deliver: &mut impl FnMut(FramedMessage<Message>),
    ) -> Result<(), WireError> {
        loop {
            let available = &self.buf[self.start..self.end];
            let Some(size) = frame_size(available, max_frame_size)? else {
                break;
            };
            if available.len() < size {
                break;
            }
            let frame = FramedMessage::decode(&available[..size], max_frame_size)?;
            self.start += size;
            deliver(frame);
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > RETAINED_READ_BUFFER {
                self.buf = vec![0; INITIAL_READ_BUFFER];
            }
        }
        Ok(())
    }

    /// Frees space at the end of a full buffer: first by moving the unconsumed bytes to the
    /// front, then, if one frame alone fills it, by growing it to that frame's declared size.
    fn make_room(&mut self, max_frame_size: usize) -> Result<(), WireError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return Ok(());
        }
        // `split_frames` consumed every complete frame, so the buffer holds the beginning of
        // one frame larger than the buffer, whose size was checked against the maximum.
        let declared = frame_size(&self.buf[..self.end], max_frame_size)?.unwrap_or(0);
        let new_len = if declared > self.buf.len() {
            declared
        } else {
            // Unreachable while the buffer is larger than a header; doubling keeps reading
            // going rather than reading into an empty slice, which would look like a close.
            self.buf.len().max(INITIAL_READ_BUFFER) * 2
        };
        self.buf.resize(new_len, 0);
        Ok(())
    }
}
