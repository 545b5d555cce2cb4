package io.vertx.spi.cluster.bop.impl.wire;

import io.vertx.core.spi.cluster.RegistrationInfo;

import java.util.List;
import java.util.Map;
import java.util.Objects;

import static io.vertx.spi.cluster.bop.impl.wire.BopMessages.*;

/**
 * The decoders of the native node's responses, one per response shape (the kinds are
 * {@link BopMessages}').
 *
 * <p>Each decoder checks that the frame's kind has the shape it reads (so a decoder applied to the
 * wrong response, or to an {@link BopMessages#ERROR_RESPONSE}, fails instead of misreading), reads
 * every field and requires the payload to end there. Failures are
 * {@link IllegalArgumentException}s naming the kind and field. Callers test
 * {@link BopFrame#isError()} first and turn {@link #error(BopFrame)} into their own failure.
 */
public final class BopResponses {

  private BopResponses() {
  }

  private static final int[] EMPTY_KINDS = {
    SET_NODE_INFO_RESPONSE, ADD_REGISTRATION_RESPONSE, CREATE_MAP_RESPONSE, MAP_PUT_RESPONSE,
    MAP_PUT_TTL_RESPONSE, MAP_CLEAR_RESPONSE, CREATE_LOCK_RESPONSE,
  };
  private static final int[] OPTIONAL_BYTES_KINDS = {
    GET_NODE_INFO_RESPONSE, MAP_GET_RESPONSE, MAP_PUT_IF_ABSENT_RESPONSE, MAP_PUT_IF_ABSENT_TTL_RESPONSE,
    MAP_REMOVE_RESPONSE, MAP_REPLACE_RESPONSE, MAP_REPLACE_TTL_RESPONSE, SYNC_MAP_PUT_RESPONSE,
    SYNC_MAP_GET_RESPONSE, SYNC_MAP_REMOVE_RESPONSE,
  };
  private static final int[] BOOL_KINDS = {
    REMOVE_REGISTRATION_RESPONSE, MAP_REMOVE_IF_PRESENT_RESPONSE, MAP_REPLACE_IF_PRESENT_RESPONSE,
    MAP_REPLACE_IF_PRESENT_TTL_RESPONSE, COUNTER_COMPARE_AND_SET_RESPONSE, LOCK_RELEASE_RESPONSE,
    LOCK_CANCEL_RESPONSE, SYNC_MAP_CONTAINS_RESPONSE,
  };
  private static final int[] U64_KINDS = {MAP_SIZE_RESPONSE};
  private static final int[] I64_KINDS = {
    CREATE_COUNTER_RESPONSE, COUNTER_GET_RESPONSE, COUNTER_ADD_AND_GET_RESPONSE,
    COUNTER_GET_AND_ADD_RESPONSE,
  };
  private static final int[] BYTE_STRINGS_KINDS = {MAP_KEYS_RESPONSE, MAP_VALUES_RESPONSE};
  private static final int[] STRINGS_KINDS = {NODE_LIST_RESPONSE};
  private static final int[] ENTRIES_KINDS = {MAP_ENTRIES_RESPONSE, SYNC_MAP_ENTRIES_RESPONSE};
  private static final int[] REGISTRATIONS_KINDS = {GET_REGISTRATIONS_RESPONSE};
  private static final int[] LOCK_KINDS = {LOCK_ACQUIRE_RESPONSE, LOCK_ACQUIRE_TIMEOUT_RESPONSE};
  private static final int[] ERROR_KINDS = {ERROR_RESPONSE};

  /** The payload reader of {@code frame} after checking that its kind is one of {@code kinds}. */
  private static BopWireReader open(BopFrame frame, int[] kinds, String shape) {
    Objects.requireNonNull(frame, "frame");
    for (int kind : kinds) {
      if (frame.kind() == kind) {
        return frame.payloadReader();
      }
    }
    throw new IllegalArgumentException(kindName(frame.kind()) + " is not " + shape);
  }

  /** The field name the Rust enum gives a kind's single field, for error messages. */
  private static String field(int kind) {
    switch (kind) {
      case GET_NODE_INFO_RESPONSE:
        return "info";
      case MAP_GET_RESPONSE:
      case SYNC_MAP_GET_RESPONSE:
      case CREATE_COUNTER_RESPONSE:
      case COUNTER_GET_RESPONSE:
      case COUNTER_ADD_AND_GET_RESPONSE:
      case COUNTER_GET_AND_ADD_RESPONSE:
        return "value";
      case REMOVE_REGISTRATION_RESPONSE:
      case MAP_REMOVE_IF_PRESENT_RESPONSE:
        return "removed";
      case MAP_REPLACE_IF_PRESENT_RESPONSE:
      case MAP_REPLACE_IF_PRESENT_TTL_RESPONSE:
        return "replaced";
      case COUNTER_COMPARE_AND_SET_RESPONSE:
        return "swapped";
      case LOCK_RELEASE_RESPONSE:
        return "released";
      case LOCK_CANCEL_RESPONSE:
        return "cancelled";
      case SYNC_MAP_CONTAINS_RESPONSE:
        return "contains";
      case MAP_SIZE_RESPONSE:
        return "size";
      case MAP_KEYS_RESPONSE:
        return "keys";
      case MAP_VALUES_RESPONSE:
        return "values";
      case NODE_LIST_RESPONSE:
        return "nodes";
      case MAP_ENTRIES_RESPONSE:
      case SYNC_MAP_ENTRIES_RESPONSE:
        return "entries";
      case GET_REGISTRATIONS_RESPONSE:
        return "registrations";
      default:
        return "previous";
    }
  }

  /** A response without fields (set node info, add registration, put, put with TTL, clear, create). */
  public static void empty(BopFrame frame) {
    open(frame, EMPTY_KINDS, "a response without fields").finish();
  }

  /**
   * An {@code Option<Vec<u8>>} response (node info, get, putIfAbsent, remove, replace, sync map
   * put/get/remove): the bytes, or null for None.
   */
  public static byte[] optionalBytes(BopFrame frame) {
    BopWireReader r = open(frame, OPTIONAL_BYTES_KINDS, "an optional-bytes response");
    byte[] value = r.optionalBytes(field(frame.kind()));
    r.finish();
    return value;
  }

  /**
   * A {@code bool} response (registration removed, removeIfPresent, replaceIfPresent,
   * compareAndSet, lock released or cancelled, sync map contains).
   */
  public static boolean bool(BopFrame frame) {
    BopWireReader r = open(frame, BOOL_KINDS, "a bool response");
    boolean value = r.bool(field(frame.kind()));
    r.finish();
    return value;
  }

  /** A {@code u64} response (map size); the bits of the unsigned value. */
  public static long u64(BopFrame frame) {
    BopWireReader r = open(frame, U64_KINDS, "a u64 response");
    long value = r.u64(field(frame.kind()));
    r.finish();
    return value;
  }

  /** An {@code i64} response (counter create, get, addAndGet, getAndAdd). */
  public static long i64(BopFrame frame) {
    BopWireReader r = open(frame, I64_KINDS, "an i64 response");
    long value = r.i64(field(frame.kind()));
    r.finish();
    return value;
  }

  /** A {@code Vec<Vec<u8>>} response (map keys, map values). */
  public static List<byte[]> byteStrings(BopFrame frame) {
    BopWireReader r = open(frame, BYTE_STRINGS_KINDS, "a list-of-bytes response");
    List<byte[]> value = r.byteStrings(field(frame.kind()));
    r.finish();
    return value;
  }

  /** A {@code Vec<String>} response (the node list, in join order). */
  public static List<String> strings(BopFrame frame) {
    BopWireReader r = open(frame, STRINGS_KINDS, "a list-of-strings response");
    List<String> value = r.strings(field(frame.kind()));
    r.finish();
    return value;
  }

  /** A {@code Vec<MapEntry>} response (map entries, sync map entries): key and value bytes. */
  public static List<Map.Entry<byte[], byte[]>> entries(BopFrame frame) {
    BopWireReader r = open(frame, ENTRIES_KINDS, "an entries response");
    List<Map.Entry<byte[], byte[]>> value = r.entries(field(frame.kind()));
    r.finish();
    return value;
  }

  /** A {@code Vec<RegistrationInfo>} response (get registrations). */
  public static List<RegistrationInfo> registrations(BopFrame frame) {
    BopWireReader r = open(frame, REGISTRATIONS_KINDS, "a registrations response");
    List<RegistrationInfo> value = r.registrations(field(frame.kind()));
    r.finish();
    return value;
  }

  /**
   * The registrations list {@code NativeListener.onRegistrationsChanged} delivers: a u32 LE count,
   * then each {@code RegistrationInfo}, and nothing after.
   */
  public static List<RegistrationInfo> registrationList(byte[] encoded) {
    Objects.requireNonNull(encoded, "registrations");
    BopWireReader r = new BopWireReader(encoded);
    List<RegistrationInfo> value = r.registrations("registrations");
    r.finish();
    return value;
  }

  /** A lock acquire response, with or without timeout. */
  public static LockAcquireResult lockAcquire(BopFrame frame) {
    BopWireReader r = open(frame, LOCK_KINDS, "a lock acquire response");
    boolean granted = r.bool("granted");
    long fencingToken = r.u64("fencing_token");
    r.finish();
    return new LockAcquireResult(granted, fencingToken);
  }

  /** An {@code ErrorResponse}: code and message. */
  public static ErrorResponse error(BopFrame frame) {
    BopWireReader r = open(frame, ERROR_KINDS, "an error response");
    int code = r.u16("code");
    String message = r.string("message");
    r.finish();
    return new ErrorResponse(code, message);
  }

  /** The answer to a lock acquire: granted now (with its fencing token), or queued. */
  public static final class LockAcquireResult {

    private final boolean granted;
    private final long fencingToken;

    public LockAcquireResult(boolean granted, long fencingToken) {
      this.granted = granted;
      this.fencingToken = fencingToken;
    }

    /** True when the lock was granted immediately; false when the request was queued. */
    public boolean granted() {
      return granted;
    }

    /** The grant's fencing token (the raft log index of the grant); the bits of a u64. */
    public long fencingToken() {
      return fencingToken;
    }

    @Override
    public String toString() {
      return "LockAcquireResult{granted=" + granted + ", fencingToken="
        + Long.toUnsignedString(fencingToken) + "}";
    }
  }

  /** The content of an {@code ErrorResponse}. */
  public static final class ErrorResponse {

    private final int code;
    private final String message;

    public ErrorResponse(int code, String message) {
      this.code = code;
      this.message = message;
    }

    /** One of the {@code ERROR_*} codes (or one a newer peer added). */
    public int code() {
      return code;
    }

    /** The peer's explanation. */
    public String message() {
      return message;
    }

    @Override
    public String toString() {
      return errorCodeName(code) + ": " + message;
    }
  }
}
