package io.vertx.spi.cluster.bop.impl.wire;

import io.vertx.core.spi.cluster.RegistrationInfo;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.Objects;

/**
 * Appends the fields of a wire-protocol payload to a growable byte array, in the encodings of
 * {@code tests/vectors/README.md} (the same as the Rust {@code wire::codec::Writer}): integers
 * little-endian, {@code bool} as one byte 0/1, strings as standard UTF-8 and byte strings each after
 * a u32 length, an {@code Option} as a tag byte 0 (None) or 1 (Some, then the value), a list as a
 * u32 item count and then the items.
 *
 * <p>Strings must be valid Unicode: an unpaired surrogate has no UTF-8 encoding (Rust strings
 * cannot hold one), and replacing it would make two different names encode to the same bytes, so it
 * is refused with {@link IllegalArgumentException}. Unsigned fields take the low bits of the Java
 * value ({@code u32} an {@code int}, {@code u64} a {@code long}); {@code u8} and {@code u16} refuse
 * values out of range. Not thread-safe; a writer builds one payload or frame.
 */
public final class BopWireWriter {

  private byte[] buf;
  private int size;
  /** Set by {@link BopFrame#start}: the first 16 bytes are a header that {@link BopFrame#finish} completes. */
  boolean framed;

  /** A writer with a small initial buffer. */
  public BopWireWriter() {
    this(64);
  }

  /** A writer whose buffer starts with room for {@code initialCapacity} bytes. */
  public BopWireWriter(int initialCapacity) {
    if (initialCapacity < 0) {
      throw new IllegalArgumentException("negative capacity " + initialCapacity);
    }
    buf = new byte[Math.max(16, initialCapacity)];
  }

  private void ensure(int more) {
    long needed = (long) size + more;
    if (needed > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("payload of " + needed + " bytes is too large to encode");
    }
    if (needed > buf.length) {
      long grown = Math.max(needed, (long) buf.length * 2);
      buf = Arrays.copyOf(buf, (int) Math.min(grown, Integer.MAX_VALUE - 8));
    }
  }

  /** One byte, 0 to 255. */
  public BopWireWriter u8(int value) {
    if ((value & ~0xff) != 0) {
      throw new IllegalArgumentException("u8 out of range: " + value);
    }
    ensure(1);
    buf[size++] = (byte) value;
    return this;
  }

  /** Two bytes little-endian, 0 to 65535. */
  public BopWireWriter u16(int value) {
    if ((value & ~0xffff) != 0) {
      throw new IllegalArgumentException("u16 out of range: " + value);
    }
    ensure(2);
    buf[size++] = (byte) value;
    buf[size++] = (byte) (value >>> 8);
    return this;
  }

  /** Four bytes little-endian: the 32 bits of {@code value}, read as unsigned by the peer. */
  public BopWireWriter u32(int value) {
    ensure(4);
    putIntLE(buf, size, value);
    size += 4;
    return this;
  }

  /** Eight bytes little-endian: the 64 bits of {@code value}, read as unsigned by the peer. */
  public BopWireWriter u64(long value) {
    ensure(8);
    for (int i = 0; i < 8; i++) {
      buf[size++] = (byte) (value >>> (8 * i));
    }
    return this;
  }

  /** Eight bytes little-endian, two's complement. */
  public BopWireWriter i64(long value) {
    return u64(value);
  }

  /** One byte: 1 for true, 0 for false. */
  public BopWireWriter bool(boolean value) {
    ensure(1);
    buf[size++] = value ? (byte) 1 : (byte) 0;
    return this;
  }

  /** A byte string: u32 length, then the bytes. */
  public BopWireWriter bytes(byte[] value) {
    Objects.requireNonNull(value, "byte string");
    return bytes(value, 0, value.length);
  }

  /** A byte string from a slice of {@code value}. */
  public BopWireWriter bytes(byte[] value, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, value.length);
    ensure(4 + length);
    putIntLE(buf, size, length);
    size += 4;
    System.arraycopy(value, offset, buf, size, length);
    size += length;
    return this;
  }

  /** A string: u32 byte length, then standard UTF-8. */
  public BopWireWriter string(String value) {
    Objects.requireNonNull(value, "string");
    int length = value.length();
    boolean ascii = true;
    for (int i = 0; i < length; i++) {
      if (value.charAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      ensure(4 + length);
      putIntLE(buf, size, length);
      size += 4;
      for (int i = 0; i < length; i++) {
        buf[size++] = (byte) value.charAt(i);
      }
      return this;
    }
    checkNoUnpairedSurrogate(value);
    return bytes(value.getBytes(StandardCharsets.UTF_8));
  }

  private static void checkNoUnpairedSurrogate(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
          i++;
          continue;
        }
        throw new IllegalArgumentException("string has an unpaired surrogate at index " + i);
      }
      if (Character.isLowSurrogate(c)) {
        throw new IllegalArgumentException("string has an unpaired surrogate at index " + i);
      }
    }
  }

  /** {@code Option<Vec<u8>>}: tag 0 for null, else tag 1 and the byte string. */
  public BopWireWriter optionalBytes(byte[] value) {
    if (value == null) {
      return u8(0);
    }
    u8(1);
    return bytes(value);
  }

  /** A list's item count; the caller writes the items after it. */
  public BopWireWriter count(int items) {
    if (items < 0) {
      throw new IllegalArgumentException("negative item count " + items);
    }
    return u32(items);
  }

  /** {@code Vec<String>}: count, then each string. */
  public BopWireWriter strings(Collection<String> values) {
    count(values.size());
    for (String value : values) {
      string(value);
    }
    return this;
  }

  /** {@code Vec<Vec<u8>>}: count, then each byte string. */
  public BopWireWriter byteStrings(Collection<byte[]> values) {
    count(values.size());
    for (byte[] value : values) {
      bytes(value);
    }
    return this;
  }

  /** {@code RegistrationInfo}: node id, sequence (u64), local-only flag. */
  public BopWireWriter registration(String nodeId, long seq, boolean localOnly) {
    return string(nodeId).u64(seq).bool(localOnly);
  }

  /** {@code RegistrationInfo} from Vert.x's class of the same name. */
  public BopWireWriter registration(RegistrationInfo registration) {
    return registration(registration.nodeId(), registration.seq(), registration.localOnly());
  }

  /** Bytes written so far. */
  public int size() {
    return size;
  }

  /** A copy of the bytes written so far. */
  public byte[] toByteArray() {
    return Arrays.copyOf(buf, size);
  }

  static void putIntLE(byte[] target, int offset, int value) {
    target[offset] = (byte) value;
    target[offset + 1] = (byte) (value >>> 8);
    target[offset + 2] = (byte) (value >>> 16);
    target[offset + 3] = (byte) (value >>> 24);
  }
}
