package io.vertx.spi.cluster.bop.impl.wire;

import java.util.Arrays;
import java.util.zip.CRC32;

/**
 * One wire-protocol frame: the 16-byte little-endian header, then the payload.
 *
 * <pre>
 * checksum u32 | size u32 | protocol_version u8 | flags u8 | message_kind u16 | request_id u32 | payload
 * </pre>
 *
 * {@code checksum} is the CRC32 (IEEE, {@link CRC32}) of every byte after it and {@code size} the
 * whole frame's length, header included (see {@code tests/vectors/README.md}; the Rust side is
 * {@code rust/wire/frame.rs}). The same frames cross the JNI boundary: Java encodes requests and
 * decodes responses with this class and {@link BopMessages}.
 *
 * <p>{@link #decode} checks, in the Rust order: enough bytes for a header, the declared size
 * (at least a header, at most the maximum, equal to the bytes given), the checksum, then the
 * version. It does not check the kind (the payload decoders of {@link BopMessages} do) and keeps
 * unknown flag bits. Every failure is an {@link IllegalArgumentException} naming what was wrong.
 * Instances are immutable views of the frame's bytes, which the caller must not modify.
 */
public final class BopFrame {

  /** Bytes before the payload. */
  public static final int HEADER_SIZE = 16;
  /** The protocol version this codec speaks; frames of any other version are refused. */
  public static final int PROTOCOL_VERSION = 2;
  /** The largest frame the Rust side accepts by default: 16 MiB. */
  public static final int DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

  /** Flag bit of a request. */
  public static final int FLAG_REQUEST = 0x01;
  /** Flag bit of a response. */
  public static final int FLAG_RESPONSE = 0x02;
  /** Flag bit of a ping. */
  public static final int FLAG_PING = 0x04;
  /** Flag bit of a pong. */
  public static final int FLAG_PONG = 0x08;
  /** The kind bit that marks a response: a response's kind is its request's kind with this bit. */
  public static final int RESPONSE_KIND_BIT = 0x8000;

  private final byte[] bytes;
  private final int checksum;
  private final int flags;
  private final int kind;
  private final int requestId;

  private BopFrame(byte[] bytes, int checksum, int flags, int kind, int requestId) {
    this.bytes = bytes;
    this.checksum = checksum;
    this.flags = flags;
    this.kind = kind;
    this.requestId = requestId;
  }

  /**
   * A writer whose first 16 bytes are this frame's header (size and checksum still zero): append the
   * payload's fields, then call {@link #finish}. Saves copying the payload into a second array.
   */
  public static BopWireWriter start(int flags, int kind, int requestId) {
    return start(flags, kind, requestId, 64);
  }

  /** {@link #start(int, int, int)} with room for {@code payloadCapacity} payload bytes. */
  public static BopWireWriter start(int flags, int kind, int requestId, int payloadCapacity) {
    BopWireWriter w = new BopWireWriter(HEADER_SIZE + Math.max(0, payloadCapacity));
    w.u32(0).u32(0).u8(PROTOCOL_VERSION).u8(flags).u16(kind).u32(requestId);
    w.framed = true;
    return w;
  }

  /** Completes a frame begun with {@link #start}: writes its size and checksum, returns its bytes. */
  public static byte[] finish(BopWireWriter writer) {
    if (!writer.framed) {
      throw new IllegalArgumentException("writer was not created by BopFrame.start");
    }
    byte[] frame = writer.toByteArray();
    seal(frame);
    return frame;
  }

  /** A complete frame of the current version from header fields and an encoded payload. */
  public static byte[] encode(int flags, int kind, int requestId, byte[] payload) {
    if ((flags & ~0xff) != 0) {
      throw new IllegalArgumentException("flags out of range: " + flags);
    }
    if ((kind & ~0xffff) != 0) {
      throw new IllegalArgumentException("message kind out of range: " + kind);
    }
    if (payload.length > Integer.MAX_VALUE - 64) {
      throw new IllegalArgumentException("payload of " + payload.length + " bytes is too large");
    }
    byte[] frame = new byte[HEADER_SIZE + payload.length];
    frame[8] = (byte) PROTOCOL_VERSION;
    frame[9] = (byte) flags;
    frame[10] = (byte) kind;
    frame[11] = (byte) (kind >>> 8);
    BopWireWriter.putIntLE(frame, 12, requestId);
    System.arraycopy(payload, 0, frame, HEADER_SIZE, payload.length);
    seal(frame);
    return frame;
  }

  /** A request frame: {@link #FLAG_REQUEST}, the kind, the request id, the payload. */
  public static byte[] encodeRequest(int requestId, int kind, byte[] payload) {
    return encode(FLAG_REQUEST, kind, requestId, payload);
  }

  private static void seal(byte[] frame) {
    BopWireWriter.putIntLE(frame, 4, frame.length);
    BopWireWriter.putIntLE(frame, 0, crc32(frame, 4, frame.length - 4));
  }

  /** CRC32 (IEEE) of a slice, as the header stores it. */
  static int crc32(byte[] data, int offset, int length) {
    CRC32 crc = new CRC32();
    crc.update(data, offset, length);
    return (int) crc.getValue();
  }

  /** Decodes a frame occupying all of {@code frame}, up to {@link #DEFAULT_MAX_FRAME_SIZE}. */
  public static BopFrame decode(byte[] frame) {
    return decode(frame, DEFAULT_MAX_FRAME_SIZE);
  }

  /** Decodes a frame occupying all of {@code frame}, refusing one above {@code maxFrameSize}. */
  public static BopFrame decode(byte[] frame, int maxFrameSize) {
    if (frame == null) {
      throw new IllegalArgumentException("null frame");
    }
    if (frame.length < HEADER_SIZE) {
      throw new IllegalArgumentException("short frame: " + frame.length
        + " bytes, the header alone takes " + HEADER_SIZE);
    }
    long size = Integer.toUnsignedLong(BopWireReader.getIntLE(frame, 4));
    if (size < HEADER_SIZE) {
      throw new IllegalArgumentException("short frame: declared size " + size
        + " bytes, the header alone takes " + HEADER_SIZE);
    }
    if (size > maxFrameSize) {
      throw new IllegalArgumentException("frame of " + size + " bytes exceeds the maximum of "
        + maxFrameSize);
    }
    if (size != frame.length) {
      throw new IllegalArgumentException("frame declares " + size + " bytes but " + frame.length
        + " were given");
    }
    int expected = BopWireReader.getIntLE(frame, 0);
    int actual = crc32(frame, 4, frame.length - 4);
    if (expected != actual) {
      throw new IllegalArgumentException(String.format(
        "bad checksum: header says %#010x, bytes give %#010x", expected, actual));
    }
    int version = frame[8] & 0xff;
    if (version != PROTOCOL_VERSION) {
      throw new IllegalArgumentException("unsupported protocol version " + version
        + " (this codec speaks " + PROTOCOL_VERSION + ")");
    }
    int flags = frame[9] & 0xff;
    int kind = (frame[10] & 0xff) | (frame[11] & 0xff) << 8;
    int requestId = BopWireReader.getIntLE(frame, 12);
    return new BopFrame(frame, expected, flags, kind, requestId);
  }

  /**
   * Splits frames laid back to back (as {@code NativeListener.onResponses} delivers them) by
   * their {@code size} fields; a truncated tail is dropped.
   */
  public static java.util.List<byte[]> split(byte[] frames) {
    java.util.List<byte[]> out = new java.util.ArrayList<>();
    int offset = 0;
    while (offset + HEADER_SIZE <= frames.length) {
      int size = (frames[offset + 4] & 0xff) | (frames[offset + 5] & 0xff) << 8
        | (frames[offset + 6] & 0xff) << 16 | (frames[offset + 7] & 0xff) << 24;
      if (size < HEADER_SIZE || size > frames.length - offset) {
        break;
      }
      out.add(java.util.Arrays.copyOfRange(frames, offset, offset + size));
      offset += size;
    }
    return out;
  }

  /**
   * The request id of a frame without validating it (at least a header is required): lets a
   * dispatcher find the waiting request to fail even when the frame is corrupt.
   */
  public static int peekRequestId(byte[] frame) {
    if (frame == null || frame.length < HEADER_SIZE) {
      throw new IllegalArgumentException("short frame: "
        + (frame == null ? "null" : frame.length + " bytes") + ", the header alone takes " + HEADER_SIZE);
    }
    return BopWireReader.getIntLE(frame, 12);
  }

  /** The header's CRC32 (the bits of a u32). */
  public int checksum() {
    return checksum;
  }

  /** The frame's total length. */
  public int size() {
    return bytes.length;
  }

  /** The protocol version (always {@link #PROTOCOL_VERSION} for a decoded frame). */
  public int protocolVersion() {
    return bytes[8] & 0xff;
  }

  /** The flag bits, unknown bits included. */
  public int flags() {
    return flags;
  }

  /** The message kind, 0 to 65535. */
  public int kind() {
    return kind;
  }

  /** The request id (the bits of a u32). */
  public int requestId() {
    return requestId;
  }

  /** True when the kind has {@link #RESPONSE_KIND_BIT}. */
  public boolean isResponse() {
    return (kind & RESPONSE_KIND_BIT) != 0;
  }

  /** True for an error response ({@link BopMessages#ERROR_RESPONSE}). */
  public boolean isError() {
    return kind == BopMessages.ERROR_RESPONSE;
  }

  /** Bytes after the header. */
  public int payloadSize() {
    return bytes.length - HEADER_SIZE;
  }

  /** A copy of the payload. */
  public byte[] payload() {
    return Arrays.copyOfRange(bytes, HEADER_SIZE, bytes.length);
  }

  /** A reader over the payload (no copy). */
  public BopWireReader payloadReader() {
    return new BopWireReader(bytes, HEADER_SIZE, bytes.length - HEADER_SIZE);
  }

  @Override
  public String toString() {
    return String.format("BopFrame{kind=%#06x, flags=%#04x, requestId=%s, size=%d}",
      kind, flags, Integer.toUnsignedString(requestId), bytes.length);
  }
}
