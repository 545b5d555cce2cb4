package io.vertx.spi.cluster.bop.impl.wire;

import io.vertx.core.spi.cluster.RegistrationInfo;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads the fields of a wire-protocol payload (encodings of {@code tests/vectors/README.md}, the
 * mirror of {@link BopWireWriter} and of the Rust {@code wire::codec::Reader}).
 *
 * <p>It never trusts a length: every length and item count is checked against the bytes that
 * remain before anything is read or allocated (an item count against the fewest bytes an item can
 * take), so a claim of 4 GiB inside a 40-byte frame fails at once instead of allocating. Every
 * failure is an {@link IllegalArgumentException} naming the field: a length beyond the end, a
 * {@code bool} or {@code Option} tag other than 0/1, a string that is not valid UTF-8, and, from
 * {@link #finish()}, bytes left over after the last field. Not thread-safe.
 */
public final class BopWireReader {

  /** Encoded size of the smallest {@code RegistrationInfo}: empty node id, u64, bool. */
  static final int MIN_REGISTRATION_SIZE = 4 + 8 + 1;
  /** Encoded size of the smallest {@code MapEntry}: two empty byte strings. */
  static final int MIN_ENTRY_SIZE = 4 + 4;

  private final byte[] data;
  private final int end;
  private int pos;

  /** Reads all of {@code data}. */
  public BopWireReader(byte[] data) {
    this(data, 0, data.length);
  }

  /** Reads {@code length} bytes of {@code data} from {@code offset}. */
  public BopWireReader(byte[] data, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, data.length);
    this.data = data;
    this.pos = offset;
    this.end = offset + length;
  }

  /** Bytes not read yet. */
  public int remaining() {
    return end - pos;
  }

  /** Fails unless every byte was read: trailing bytes make a payload malformed. */
  public void finish() {
    if (pos != end) {
      throw new IllegalArgumentException(remaining() + " unexpected bytes after the payload");
    }
  }

  private int take(long n, String field) {
    if (n > remaining()) {
      throw new IllegalArgumentException("field `" + field + "` claims " + n + " bytes but only "
        + remaining() + " remain");
    }
    int at = pos;
    pos += (int) n;
    return at;
  }

  /** One unsigned byte. */
  public int u8(String field) {
    return data[take(1, field)] & 0xff;
  }

  /** Two bytes little-endian, unsigned. */
  public int u16(String field) {
    int at = take(2, field);
    return (data[at] & 0xff) | (data[at + 1] & 0xff) << 8;
  }

  /** Four bytes little-endian; the bits of a u32 (use {@link Integer#toUnsignedLong} for its value). */
  public int u32(String field) {
    int at = take(4, field);
    return getIntLE(data, at);
  }

  /** Eight bytes little-endian; the bits of a u64 (use {@link Long#toUnsignedString} to print it). */
  public long u64(String field) {
    int at = take(8, field);
    long value = 0;
    for (int i = 7; i >= 0; i--) {
      value = (value << 8) | (data[at + i] & 0xff);
    }
    return value;
  }

  /** Eight bytes little-endian, two's complement. */
  public long i64(String field) {
    return u64(field);
  }

  /** One byte, 0 or 1. */
  public boolean bool(String field) {
    int tag = u8(field);
    if (tag == 0) {
      return false;
    }
    if (tag == 1) {
      return true;
    }
    throw new IllegalArgumentException("field `" + field + "` has invalid tag " + tag);
  }

  /**
   * A u32 item count, checked against the remaining bytes given that each item takes at least
   * {@code minItemSize} bytes.
   */
  public int count(String field, int minItemSize) {
    long n = Integer.toUnsignedLong(u32(field));
    long needed = n * Math.max(1, minItemSize);
    if (needed > remaining()) {
      throw new IllegalArgumentException("field `" + field + "` claims " + needed
        + " bytes but only " + remaining() + " remain");
    }
    return (int) n;
  }

  /** A byte string (u32 length, then the bytes), copied. */
  public byte[] bytes(String field) {
    int n = count(field, 1);
    int at = take(n, field);
    return Arrays.copyOfRange(data, at, at + n);
  }

  /** A string (u32 length, then UTF-8); invalid UTF-8 is an error, not a replacement character. */
  public String string(String field) {
    int n = count(field, 1);
    int at = take(n, field);
    boolean ascii = true;
    for (int i = at; i < at + n; i++) {
      if (data[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(data, at, n, StandardCharsets.ISO_8859_1);
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(data, at, n))
        .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("field `" + field + "` is not valid UTF-8");
    }
  }

  /** {@code Option<Vec<u8>>}: null for None. */
  public byte[] optionalBytes(String field) {
    return optionTag(field) ? bytes(field) : null;
  }

  /** An {@code Option} tag: false for None, true when a value follows. */
  public boolean optionTag(String field) {
    int tag = u8(field);
    if (tag == 0) {
      return false;
    }
    if (tag == 1) {
      return true;
    }
    throw new IllegalArgumentException("field `" + field + "` has invalid tag " + tag);
  }

  /** {@code Vec<String>}. */
  public List<String> strings(String field) {
    int n = count(field, 4);
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(string(field));
    }
    return out;
  }

  /** {@code Vec<Vec<u8>>}. */
  public List<byte[]> byteStrings(String field) {
    int n = count(field, 4);
    List<byte[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(bytes(field));
    }
    return out;
  }

  /** {@code RegistrationInfo}: node id, sequence, local-only flag. */
  public RegistrationInfo registration(String field) {
    String nodeId = string(field);
    long seq = u64(field);
    boolean localOnly = bool(field);
    return new RegistrationInfo(nodeId, seq, localOnly);
  }

  /** {@code Vec<RegistrationInfo>}. */
  public List<RegistrationInfo> registrations(String field) {
    int n = count(field, MIN_REGISTRATION_SIZE);
    List<RegistrationInfo> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(registration(field));
    }
    return out;
  }

  /** {@code Vec<MapEntry>}: key and value byte strings. */
  public List<Map.Entry<byte[], byte[]>> entries(String field) {
    int n = count(field, MIN_ENTRY_SIZE);
    List<Map.Entry<byte[], byte[]>> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      byte[] key = bytes(field);
      byte[] value = bytes(field);
      out.add(new AbstractMap.SimpleImmutableEntry<>(key, value));
    }
    return out;
  }

  static int getIntLE(byte[] source, int offset) {
    return (source[offset] & 0xff)
      | (source[offset + 1] & 0xff) << 8
      | (source[offset + 2] & 0xff) << 16
      | (source[offset + 3] & 0xff) << 24;
  }
}
