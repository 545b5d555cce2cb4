package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.ClusterSerializable;

import java.io.InvalidClassException;
import java.io.Serializable;
import java.lang.reflect.Constructor;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * Encodes AsyncMap keys and values (and sync map entries) to the bytes the replicated state stores,
 * and back. The state machine compares keys, and the old values of {@code removeIfPresent} and
 * {@code replaceIfPresent}, byte for byte, so the encoding is deterministic: equal values of the
 * supported types give equal bytes, on every node and in every run.
 *
 * <p>Layout: one tag byte, then the body. Tags are a stable format (never renumber one):
 * <table>
 *   <caption>value tags</caption>
 *   <tr><td>0x01</td><td>String</td><td>UTF-8</td></tr>
 *   <tr><td>0x02</td><td>String with an unpaired surrogate</td><td>UTF-16LE (UTF-8 cannot carry it)</td></tr>
 *   <tr><td>0x03</td><td>Boolean</td><td>one byte 0/1</td></tr>
 *   <tr><td>0x04..0x08</td><td>Byte, Short, Integer, Long, Character</td><td>1, 2, 4, 8, 2 bytes LE</td></tr>
 *   <tr><td>0x09, 0x0a</td><td>Float, Double</td><td>{@code floatToIntBits}/{@code doubleToLongBits}
 *     LE (canonical NaN, as {@code equals})</td></tr>
 *   <tr><td>0x0b</td><td>byte[]</td><td>the bytes</td></tr>
 *   <tr><td>0x0c</td><td>any {@link Buffer}</td><td>its bytes; rebuilt with {@link Buffer#buffer(byte[])},
 *     since implementations are internal</td></tr>
 *   <tr><td>0x0d, 0x0e</td><td>JsonObject, JsonArray</td><td>their {@code writeToBuffer} bytes</td></tr>
 *   <tr><td>0x0f</td><td>other {@link ClusterSerializable}</td><td>u16 LE class-name length, the
 *     class name (UTF-8), the {@code writeToBuffer} bytes</td></tr>
 *   <tr><td>0x10</td><td>other {@link Serializable}</td><td>Java serialization stream</td></tr>
 * </table>
 * {@code ClusterSerializable} wins over {@code Serializable} for a class that is both, as on the
 * Vert.x event bus. JsonObjects encode their keys in iteration order and Serializable objects as
 * Java serialization writes them, so two equal objects built differently (another key order,
 * another HashMap capacity) may encode differently; Hazelcast and Infinispan behave the same.
 *
 * <p>Safety: decoding never deserializes an arbitrary class from the cluster. A
 * {@code ClusterSerializable} is created only if its class is on the allow-list (checked by name,
 * before the class is loaded), implements {@code ClusterSerializable} and has a public no-arg
 * constructor (what the Vert.x event bus requires). Java serialization admits only classes on the
 * allow-list (default {@link #DEFAULT_ALLOWED}, plus the caller's entries) and refuses graphs deeper
 * than {@link #MAX_DEPTH} levels or holding more than {@link #MAX_REFERENCES} references (nested
 * {@code HashSet}s of depth 100, the "SerialDOS" value, would otherwise take 2^100 hash computations
 * to read): see {@link SerializationAllowList}. Encoding applies the same allow-list, so a value that
 * no node could read is refused when it is written, not when it is read.
 *
 * <p>Classes are loaded through the thread context class loader, then the fallback loader given to
 * the constructor. Instances are immutable and thread-safe. Failures are
 * {@link IllegalArgumentException}s (the cause, if any, is the underlying exception, e.g. the
 * {@code InvalidClassException}).
 */
public final class BopValueCodec {

  /** Classes Java serialization may carry without configuration. */
  public static final List<String> DEFAULT_ALLOWED = SerializationAllowList.DEFAULT_ALLOWED;
  /** The deepest object graph Java serialization may read: 2^20 operations at worst. */
  public static final int MAX_DEPTH = SerializationAllowList.MAX_DEPTH;
  /** The most object references one Java-serialized value may hold. */
  public static final long MAX_REFERENCES = SerializationAllowList.MAX_REFERENCES;

  static final byte TAG_STRING = 0x01;
  static final byte TAG_STRING_UTF16 = 0x02;
  static final byte TAG_BOOLEAN = 0x03;
  static final byte TAG_BYTE = 0x04;
  static final byte TAG_SHORT = 0x05;
  static final byte TAG_INTEGER = 0x06;
  static final byte TAG_LONG = 0x07;
  static final byte TAG_CHARACTER = 0x08;
  static final byte TAG_FLOAT = 0x09;
  static final byte TAG_DOUBLE = 0x0a;
  static final byte TAG_BYTES = 0x0b;
  static final byte TAG_BUFFER = 0x0c;
  static final byte TAG_JSON_OBJECT = 0x0d;
  static final byte TAG_JSON_ARRAY = 0x0e;
  static final byte TAG_CLUSTER_SERIALIZABLE = 0x0f;
  static final byte TAG_SERIALIZABLE = 0x10;

  private final SerializationAllowList allowList;

  /**
   * @param fallback the class loader used when the thread context class loader cannot load a
   *                 class (null: this class's loader)
   * @param extraAllowed allow-list entries added to {@link #DEFAULT_ALLOWED} (null: none); each an
   *                     exact class name, {@code pkg.*} or {@code pkg.**}; blank entries are ignored
   * @throws IllegalArgumentException for a malformed entry
   */
  public BopValueCodec(ClassLoader fallback, Collection<String> extraAllowed) {
    this.allowList = new SerializationAllowList(fallback, extraAllowed);
  }

  /** The allow-list in force: the defaults, then the caller's entries. */
  public List<String> allowed() {
    return allowList.allowed();
  }

  /** True when Java serialization may carry the class of that name (array names included). */
  public boolean isAllowed(String className) {
    return allowList.isAllowed(className);
  }

  // ----------------------------------------------------------------------------------------------
  // encode
  // ----------------------------------------------------------------------------------------------

  /**
   * The bytes of a key or value.
   *
   * @throws NullPointerException for null (AsyncMap keys and values are never null)
   * @throws IllegalArgumentException for a type that is none of the supported ones, or a
   *         Serializable graph that holds a class outside the allow-list
   */
  public byte[] encode(Object value) {
    Objects.requireNonNull(value, "a null key or value cannot be encoded");
    if (value instanceof String) {
      return encodeString((String) value);
    }
    if (value instanceof Integer) {
      return fixed(TAG_INTEGER, (Integer) value, 4);
    }
    if (value instanceof Long) {
      return fixed(TAG_LONG, (Long) value, 8);
    }
    if (value instanceof Boolean) {
      return new byte[]{TAG_BOOLEAN, (byte) ((Boolean) value ? 1 : 0)};
    }
    if (value instanceof Byte) {
      return new byte[]{TAG_BYTE, (Byte) value};
    }
    if (value instanceof Short) {
      return fixed(TAG_SHORT, (Short) value, 2);
    }
    if (value instanceof Character) {
      return fixed(TAG_CHARACTER, (Character) value, 2);
    }
    if (value instanceof Float) {
      return fixed(TAG_FLOAT, Float.floatToIntBits((Float) value), 4);
    }
    if (value instanceof Double) {
      return fixed(TAG_DOUBLE, Double.doubleToLongBits((Double) value), 8);
    }
    if (value instanceof byte[]) {
      return tagged(TAG_BYTES, (byte[]) value);
    }
    if (value instanceof Buffer) {
      return tagged(TAG_BUFFER, ((Buffer) value).getBytes());
    }
    if (value instanceof JsonObject) {
      return clusterSerialized(TAG_JSON_OBJECT, value, null);
    }
    if (value instanceof JsonArray) {
      return clusterSerialized(TAG_JSON_ARRAY, value, null);
    }
    if (ClusterSerializables.isInstance(value)) {
      String className = value.getClass().getName();
      if (!isAllowed(className)) {
        throw new IllegalArgumentException("ClusterSerializable class " + className + " is not on the allow-list "
          + "(vertx.bop.serializableAllowList; allowed: " + allowed() + "): no node would create it");
      }
      byte[] name = className.getBytes(StandardCharsets.UTF_8);
      return clusterSerialized(TAG_CLUSTER_SERIALIZABLE, value, name);
    }
    if (value instanceof Serializable) {
      return allowList.serialize(value, TAG_SERIALIZABLE);
    }
    throw new IllegalArgumentException("cannot store a " + value.getClass().getName()
      + " in a cluster-wide map: use a String, a boxed primitive, byte[], a Buffer, a JsonObject, a"
      + " JsonArray, a ClusterSerializable or an allowed Serializable");
  }

  private static byte[] encodeString(String s) {
    if (hasUnpairedSurrogate(s)) {
      // by hand: the UTF-16 charset encoder would replace the lone surrogate too
      byte[] out = new byte[1 + 2 * s.length()];
      out[0] = TAG_STRING_UTF16;
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        out[1 + 2 * i] = (byte) c;
        out[2 + 2 * i] = (byte) (c >>> 8);
      }
      return out;
    }
    return tagged(TAG_STRING, s.getBytes(StandardCharsets.UTF_8));
  }

  private static String decodeUtf16(byte[] bytes) {
    if ((bytes.length - 1) % 2 != 0) {
      throw new IllegalArgumentException("odd length for a UTF-16 string: " + (bytes.length - 1));
    }
    char[] chars = new char[(bytes.length - 1) / 2];
    for (int i = 0; i < chars.length; i++) {
      chars[i] = (char) ((bytes[1 + 2 * i] & 0xff) | (bytes[2 + 2 * i] & 0xff) << 8);
    }
    return new String(chars);
  }

  private static boolean hasUnpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)) {
        if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          return true;
        }
      } else if (Character.isLowSurrogate(c)) {
        return true;
      }
    }
    return false;
  }

  private static byte[] fixed(byte tag, long bits, int size) {
    byte[] out = new byte[1 + size];
    out[0] = tag;
    for (int i = 0; i < size; i++) {
      out[1 + i] = (byte) (bits >>> (8 * i));
    }
    return out;
  }

  private static byte[] tagged(byte tag, byte[] body) {
    byte[] out = new byte[1 + body.length];
    out[0] = tag;
    System.arraycopy(body, 0, out, 1, body.length);
    return out;
  }

  private static byte[] clusterSerialized(byte tag, Object value, byte[] className) {
    Buffer buffer = Buffer.buffer();
    buffer.appendByte(tag);
    if (className != null) {
      if (className.length > 0xffff) {
        throw new IllegalArgumentException("class name too long: " + className.length + " bytes");
      }
      buffer.appendUnsignedShortLE(className.length);
      buffer.appendBytes(className);
    }
    ClusterSerializables.write(value, buffer);
    return buffer.getBytes();
  }

  // ----------------------------------------------------------------------------------------------
  // decode
  // ----------------------------------------------------------------------------------------------

  /**
   * The value encoded by {@link #encode}.
   *
   * @throws IllegalArgumentException for malformed bytes, an unknown tag, a class that cannot be
   *         loaded or created, or a Java-serialized class outside the allow-list (the cause is then
   *         an {@link InvalidClassException} naming it)
   */
  public Object decode(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length == 0) {
      throw new IllegalArgumentException("empty value: no type tag");
    }
    byte tag = bytes[0];
    switch (tag) {
      case TAG_STRING:
        return new String(bytes, 1, bytes.length - 1, StandardCharsets.UTF_8);
      case TAG_STRING_UTF16:
        return decodeUtf16(bytes);
      case TAG_BOOLEAN:
        checkLength(bytes, 1, "Boolean");
        if (bytes[1] != 0 && bytes[1] != 1) {
          throw new IllegalArgumentException("invalid Boolean byte " + bytes[1]);
        }
        return bytes[1] == 1;
      case TAG_BYTE:
        checkLength(bytes, 1, "Byte");
        return bytes[1];
      case TAG_SHORT:
        checkLength(bytes, 2, "Short");
        return (short) readLE(bytes, 2);
      case TAG_INTEGER:
        checkLength(bytes, 4, "Integer");
        return (int) readLE(bytes, 4);
      case TAG_LONG:
        checkLength(bytes, 8, "Long");
        return readLE(bytes, 8);
      case TAG_CHARACTER:
        checkLength(bytes, 2, "Character");
        return (char) readLE(bytes, 2);
      case TAG_FLOAT:
        checkLength(bytes, 4, "Float");
        return Float.intBitsToFloat((int) readLE(bytes, 4));
      case TAG_DOUBLE:
        checkLength(bytes, 8, "Double");
        return Double.longBitsToDouble(readLE(bytes, 8));
      case TAG_BYTES:
        return Arrays.copyOfRange(bytes, 1, bytes.length);
      case TAG_BUFFER:
        return Buffer.buffer(Arrays.copyOfRange(bytes, 1, bytes.length));
      case TAG_JSON_OBJECT:
        return readJson(new JsonObject(), bytes);
      case TAG_JSON_ARRAY:
        return readJson(new JsonArray(), bytes);
      case TAG_CLUSTER_SERIALIZABLE:
        return decodeClusterSerializable(bytes);
      case TAG_SERIALIZABLE:
        return allowList.deserialize(bytes);
      default:
        throw new IllegalArgumentException("unknown value tag " + (tag & 0xff));
    }
  }

  private static void checkLength(byte[] bytes, int bodySize, String type) {
    if (bytes.length != 1 + bodySize) {
      throw new IllegalArgumentException("a " + type + " takes " + bodySize + " bytes, got "
        + (bytes.length - 1));
    }
  }

  private static long readLE(byte[] bytes, int size) {
    long value = 0;
    for (int i = size; i >= 1; i--) {
      value = (value << 8) | (bytes[i] & 0xff);
    }
    return value;
  }

  /**
   * JSON is written as Vert.x writes it to a buffer: a big-endian int length, then that many bytes.
   * The length is checked before Vert.x reads it, as Vert.x allocates what it claims first (found by
   * BopValueCodecFuzzTest: a corrupt length asked for gigabytes).
   */
  private static <T extends ClusterSerializable> T readJson(T target, byte[] bytes) {
    String type = target.getClass().getSimpleName();
    if (bytes.length < 5) {
      throw new IllegalArgumentException("truncated " + type + ": " + bytes.length + " bytes");
    }
    int declared = (bytes[1] & 0xff) << 24 | (bytes[2] & 0xff) << 16 | (bytes[3] & 0xff) << 8 | (bytes[4] & 0xff);
    if (declared != bytes.length - 5) {
      throw new IllegalArgumentException(type + " claims " + Integer.toUnsignedString(declared) + " bytes but "
        + (bytes.length - 5) + " follow");
    }
    return readClusterSerializable(target, bytes, 1);
  }

  private static <T> T readClusterSerializable(T target, byte[] bytes, int from) {
    try {
      ClusterSerializables.read(target, Buffer.buffer(Arrays.copyOfRange(bytes, from, bytes.length)));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("cannot read a " + target.getClass().getName() + ": " + e, e);
    } catch (OutOfMemoryError e) {
      // A length inside the value's own format claimed more than the heap holds. The allocation
      // that failed never happened: nothing is left behind. (Buffer reads allocate what a length
      // claims before they find it exceeds the bytes.)
      throw new IllegalArgumentException("reading a " + target.getClass().getName()
        + " asked for more memory than the heap has: its bytes are corrupt", e);
    }
    return target;
  }

  private Object decodeClusterSerializable(byte[] bytes) {
    if (bytes.length < 3) {
      throw new IllegalArgumentException("truncated ClusterSerializable: " + bytes.length + " bytes");
    }
    int nameLength = (bytes[1] & 0xff) | (bytes[2] & 0xff) << 8;
    if (3 + nameLength > bytes.length) {
      throw new IllegalArgumentException("ClusterSerializable class name claims " + nameLength
        + " bytes but only " + (bytes.length - 3) + " remain");
    }
    String className = new String(bytes, 3, nameLength, StandardCharsets.UTF_8);
    if (!isAllowed(className)) {
      throw new IllegalArgumentException("refusing to create " + className + ": ClusterSerializable class not on the "
        + "allow-list (vertx.bop.serializableAllowList; allowed: " + allowed() + ")");
    }
    Class<?> type = allowList.loadClass(className);
    if (!ClusterSerializables.isType(type) || type.isInterface()
      || Modifier.isAbstract(type.getModifiers())) {
      throw new IllegalArgumentException("refusing to create " + className
        + ": not a concrete ClusterSerializable class");
    }
    Object instance;
    try {
      Constructor<?> constructor = type.getConstructor();
      instance = constructor.newInstance();
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalArgumentException("cannot create " + className
        + " (a ClusterSerializable needs a public no-arg constructor): " + e, e);
    }
    return readClusterSerializable(instance, bytes, 3 + nameLength);
  }


}
