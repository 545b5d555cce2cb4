package io.vertx.spi.cluster.bop.impl.wire;

import io.vertx.core.spi.cluster.RegistrationInfo;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The messages the Java cluster manager exchanges with its native node: kind numbers and one
 * encoder per request (returning the whole request frame, flag {@link BopFrame#FLAG_REQUEST}); the
 * decoders of the responses are in {@link BopResponses}.
 *
 * <p>Kinds and field orders are those of {@code rust/wire/message.rs} and never change meaning: a
 * response's kind is its request's kind with {@link BopFrame#RESPONSE_KIND_BIT}. Only the kinds
 * Java sends are here: the native node itself joins, leaves, pings, expires and talks raft, and the
 * cluster manager has no use for sets. TTLs and timeouts are milliseconds; byte strings are the
 * already-encoded keys and values of {@code BopValueCodec}.
 *
 */
public final class BopMessages {

  private BopMessages() {
  }

  // ---- kinds: errors (0x00xx) ----
  /** The answer to any request that failed: {@code code u16, message String}. */
  public static final int ERROR_RESPONSE = 0x8000;

  // ---- membership and node info (0x01xx) ----
  public static final int NODE_LIST_REQUEST = 0x0103;
  public static final int NODE_LIST_RESPONSE = 0x8103;
  public static final int SET_NODE_INFO_REQUEST = 0x0104;
  public static final int SET_NODE_INFO_RESPONSE = 0x8104;
  public static final int GET_NODE_INFO_REQUEST = 0x0105;
  public static final int GET_NODE_INFO_RESPONSE = 0x8105;

  // ---- event-bus registrations (0x02xx) ----
  public static final int ADD_REGISTRATION_REQUEST = 0x0201;
  public static final int ADD_REGISTRATION_RESPONSE = 0x8201;
  public static final int REMOVE_REGISTRATION_REQUEST = 0x0202;
  public static final int REMOVE_REGISTRATION_RESPONSE = 0x8202;
  public static final int GET_REGISTRATIONS_REQUEST = 0x0203;
  public static final int GET_REGISTRATIONS_RESPONSE = 0x8203;

  // ---- async maps (0x03xx) ----
  public static final int CREATE_MAP_REQUEST = 0x0301;
  public static final int CREATE_MAP_RESPONSE = 0x8301;
  public static final int MAP_GET_REQUEST = 0x0302;
  public static final int MAP_GET_RESPONSE = 0x8302;
  public static final int MAP_PUT_REQUEST = 0x0303;
  public static final int MAP_PUT_RESPONSE = 0x8303;
  public static final int MAP_PUT_TTL_REQUEST = 0x0304;
  public static final int MAP_PUT_TTL_RESPONSE = 0x8304;
  public static final int MAP_PUT_IF_ABSENT_REQUEST = 0x0305;
  public static final int MAP_PUT_IF_ABSENT_RESPONSE = 0x8305;
  public static final int MAP_PUT_IF_ABSENT_TTL_REQUEST = 0x0306;
  public static final int MAP_PUT_IF_ABSENT_TTL_RESPONSE = 0x8306;
  public static final int MAP_REMOVE_REQUEST = 0x0307;
  public static final int MAP_REMOVE_RESPONSE = 0x8307;
  public static final int MAP_REMOVE_IF_PRESENT_REQUEST = 0x0308;
  public static final int MAP_REMOVE_IF_PRESENT_RESPONSE = 0x8308;
  public static final int MAP_REPLACE_REQUEST = 0x0309;
  public static final int MAP_REPLACE_RESPONSE = 0x8309;
  public static final int MAP_REPLACE_TTL_REQUEST = 0x030a;
  public static final int MAP_REPLACE_TTL_RESPONSE = 0x830a;
  public static final int MAP_REPLACE_IF_PRESENT_REQUEST = 0x030b;
  public static final int MAP_REPLACE_IF_PRESENT_RESPONSE = 0x830b;
  public static final int MAP_REPLACE_IF_PRESENT_TTL_REQUEST = 0x030c;
  public static final int MAP_REPLACE_IF_PRESENT_TTL_RESPONSE = 0x830c;
  public static final int MAP_CLEAR_REQUEST = 0x030d;
  public static final int MAP_CLEAR_RESPONSE = 0x830d;
  public static final int MAP_SIZE_REQUEST = 0x030e;
  public static final int MAP_SIZE_RESPONSE = 0x830e;
  public static final int MAP_KEYS_REQUEST = 0x030f;
  public static final int MAP_KEYS_RESPONSE = 0x830f;
  public static final int MAP_VALUES_REQUEST = 0x0310;
  public static final int MAP_VALUES_RESPONSE = 0x8310;
  public static final int MAP_ENTRIES_REQUEST = 0x0311;
  public static final int MAP_ENTRIES_RESPONSE = 0x8311;

  // ---- counters (0x05xx) ----
  public static final int CREATE_COUNTER_REQUEST = 0x0501;
  public static final int CREATE_COUNTER_RESPONSE = 0x8501;
  public static final int COUNTER_GET_REQUEST = 0x0502;
  public static final int COUNTER_GET_RESPONSE = 0x8502;
  public static final int COUNTER_ADD_AND_GET_REQUEST = 0x0503;
  public static final int COUNTER_ADD_AND_GET_RESPONSE = 0x8503;
  public static final int COUNTER_GET_AND_ADD_REQUEST = 0x0504;
  public static final int COUNTER_GET_AND_ADD_RESPONSE = 0x8504;
  public static final int COUNTER_COMPARE_AND_SET_REQUEST = 0x0505;
  public static final int COUNTER_COMPARE_AND_SET_RESPONSE = 0x8505;

  // ---- locks (0x06xx) ----
  public static final int CREATE_LOCK_REQUEST = 0x0601;
  public static final int CREATE_LOCK_RESPONSE = 0x8601;
  public static final int LOCK_ACQUIRE_REQUEST = 0x0602;
  public static final int LOCK_ACQUIRE_RESPONSE = 0x8602;
  public static final int LOCK_ACQUIRE_TIMEOUT_REQUEST = 0x0603;
  public static final int LOCK_ACQUIRE_TIMEOUT_RESPONSE = 0x8603;
  public static final int LOCK_RELEASE_REQUEST = 0x0604;
  public static final int LOCK_RELEASE_RESPONSE = 0x8604;
  public static final int LOCK_CANCEL_REQUEST = 0x0605;
  public static final int LOCK_CANCEL_RESPONSE = 0x8605;

  // ---- sync maps (0x07xx) ----
  public static final int SYNC_MAP_PUT_REQUEST = 0x0701;
  public static final int SYNC_MAP_PUT_RESPONSE = 0x8701;
  public static final int SYNC_MAP_GET_REQUEST = 0x0702;
  public static final int SYNC_MAP_GET_RESPONSE = 0x8702;
  public static final int SYNC_MAP_REMOVE_REQUEST = 0x0703;
  public static final int SYNC_MAP_REMOVE_RESPONSE = 0x8703;
  public static final int SYNC_MAP_CONTAINS_REQUEST = 0x0704;
  public static final int SYNC_MAP_CONTAINS_RESPONSE = 0x8704;
  public static final int SYNC_MAP_ENTRIES_REQUEST = 0x0705;
  public static final int SYNC_MAP_ENTRIES_RESPONSE = 0x8705;

  // ---- error codes of ERROR_RESPONSE (rust/wire/message.rs, mod error_code) ----
  /** The frame or payload could not be decoded. */
  public static final int ERROR_MALFORMED = 1;
  /** The message kind is not a request this node serves. */
  public static final int ERROR_UNSUPPORTED = 2;
  /** The named node is not a member of the cluster. */
  public static final int ERROR_NOT_A_MEMBER = 3;
  // 4 is reserved (never sent; see rust/wire/message.rs).
  /** This node cannot reach a quorum: writes and linearizable reads are refused. */
  public static final int ERROR_NO_QUORUM = 5;
  /** The operation did not complete in time. */
  public static final int ERROR_TIMEOUT = 6;
  /** The node is closed or closing. */
  public static final int ERROR_CLOSED = 7;
  /** A value or frame is larger than the configured maximum. */
  public static final int ERROR_TOO_LARGE = 8;

  private static final Map<Integer, String> KIND_NAMES = new HashMap<>();

  static {
    String[] names = {
      "ErrorResponse", "NodeListRequest", "NodeListResponse", "SetNodeInfoRequest",
      "SetNodeInfoResponse", "GetNodeInfoRequest", "GetNodeInfoResponse", "AddRegistrationRequest",
      "AddRegistrationResponse", "RemoveRegistrationRequest", "RemoveRegistrationResponse",
      "GetRegistrationsRequest", "GetRegistrationsResponse", "CreateMapRequest", "CreateMapResponse",
      "MapGetRequest", "MapGetResponse", "MapPutRequest", "MapPutResponse", "MapPutTtlRequest",
      "MapPutTtlResponse", "MapPutIfAbsentRequest", "MapPutIfAbsentResponse",
      "MapPutIfAbsentTtlRequest", "MapPutIfAbsentTtlResponse", "MapRemoveRequest", "MapRemoveResponse",
      "MapRemoveIfPresentRequest", "MapRemoveIfPresentResponse", "MapReplaceRequest",
      "MapReplaceResponse", "MapReplaceTtlRequest", "MapReplaceTtlResponse",
      "MapReplaceIfPresentRequest", "MapReplaceIfPresentResponse", "MapReplaceIfPresentTtlRequest",
      "MapReplaceIfPresentTtlResponse", "MapClearRequest", "MapClearResponse", "MapSizeRequest",
      "MapSizeResponse", "MapKeysRequest", "MapKeysResponse", "MapValuesRequest", "MapValuesResponse",
      "MapEntriesRequest", "MapEntriesResponse", "CreateCounterRequest", "CreateCounterResponse",
      "CounterGetRequest", "CounterGetResponse", "CounterAddAndGetRequest", "CounterAddAndGetResponse",
      "CounterGetAndAddRequest", "CounterGetAndAddResponse", "CounterCompareAndSetRequest",
      "CounterCompareAndSetResponse", "CreateLockRequest", "CreateLockResponse", "LockAcquireRequest",
      "LockAcquireResponse", "LockAcquireTimeoutRequest", "LockAcquireTimeoutResponse",
      "LockReleaseRequest", "LockReleaseResponse", "LockCancelRequest", "LockCancelResponse",
      "SyncMapPutRequest", "SyncMapPutResponse", "SyncMapGetRequest", "SyncMapGetResponse",
      "SyncMapRemoveRequest", "SyncMapRemoveResponse", "SyncMapContainsRequest",
      "SyncMapContainsResponse", "SyncMapEntriesRequest", "SyncMapEntriesResponse",
    };
    int[] kinds = {
      ERROR_RESPONSE, NODE_LIST_REQUEST, NODE_LIST_RESPONSE, SET_NODE_INFO_REQUEST,
      SET_NODE_INFO_RESPONSE, GET_NODE_INFO_REQUEST, GET_NODE_INFO_RESPONSE, ADD_REGISTRATION_REQUEST,
      ADD_REGISTRATION_RESPONSE, REMOVE_REGISTRATION_REQUEST, REMOVE_REGISTRATION_RESPONSE,
      GET_REGISTRATIONS_REQUEST, GET_REGISTRATIONS_RESPONSE, CREATE_MAP_REQUEST, CREATE_MAP_RESPONSE,
      MAP_GET_REQUEST, MAP_GET_RESPONSE, MAP_PUT_REQUEST, MAP_PUT_RESPONSE, MAP_PUT_TTL_REQUEST,
      MAP_PUT_TTL_RESPONSE, MAP_PUT_IF_ABSENT_REQUEST, MAP_PUT_IF_ABSENT_RESPONSE,
      MAP_PUT_IF_ABSENT_TTL_REQUEST, MAP_PUT_IF_ABSENT_TTL_RESPONSE, MAP_REMOVE_REQUEST, MAP_REMOVE_RESPONSE,
      MAP_REMOVE_IF_PRESENT_REQUEST, MAP_REMOVE_IF_PRESENT_RESPONSE, MAP_REPLACE_REQUEST,
      MAP_REPLACE_RESPONSE, MAP_REPLACE_TTL_REQUEST, MAP_REPLACE_TTL_RESPONSE,
      MAP_REPLACE_IF_PRESENT_REQUEST, MAP_REPLACE_IF_PRESENT_RESPONSE, MAP_REPLACE_IF_PRESENT_TTL_REQUEST,
      MAP_REPLACE_IF_PRESENT_TTL_RESPONSE, MAP_CLEAR_REQUEST, MAP_CLEAR_RESPONSE, MAP_SIZE_REQUEST,
      MAP_SIZE_RESPONSE, MAP_KEYS_REQUEST, MAP_KEYS_RESPONSE, MAP_VALUES_REQUEST, MAP_VALUES_RESPONSE,
      MAP_ENTRIES_REQUEST, MAP_ENTRIES_RESPONSE, CREATE_COUNTER_REQUEST, CREATE_COUNTER_RESPONSE,
      COUNTER_GET_REQUEST, COUNTER_GET_RESPONSE, COUNTER_ADD_AND_GET_REQUEST, COUNTER_ADD_AND_GET_RESPONSE,
      COUNTER_GET_AND_ADD_REQUEST, COUNTER_GET_AND_ADD_RESPONSE, COUNTER_COMPARE_AND_SET_REQUEST,
      COUNTER_COMPARE_AND_SET_RESPONSE, CREATE_LOCK_REQUEST, CREATE_LOCK_RESPONSE, LOCK_ACQUIRE_REQUEST,
      LOCK_ACQUIRE_RESPONSE, LOCK_ACQUIRE_TIMEOUT_REQUEST, LOCK_ACQUIRE_TIMEOUT_RESPONSE,
      LOCK_RELEASE_REQUEST, LOCK_RELEASE_RESPONSE, LOCK_CANCEL_REQUEST, LOCK_CANCEL_RESPONSE,
      SYNC_MAP_PUT_REQUEST, SYNC_MAP_PUT_RESPONSE, SYNC_MAP_GET_REQUEST, SYNC_MAP_GET_RESPONSE,
      SYNC_MAP_REMOVE_REQUEST, SYNC_MAP_REMOVE_RESPONSE, SYNC_MAP_CONTAINS_REQUEST,
      SYNC_MAP_CONTAINS_RESPONSE, SYNC_MAP_ENTRIES_REQUEST, SYNC_MAP_ENTRIES_RESPONSE,
    };
    for (int i = 0; i < kinds.length; i++) {
      KIND_NAMES.put(kinds[i], names[i]);
    }
  }

  /** The {@code Message} variant name of a kind this class knows, else its number in hex. */
  public static String kindName(int kind) {
    String name = KIND_NAMES.get(kind);
    return name != null ? name : String.format("kind %#06x", kind);
  }

  /** Every kind this class encodes or decodes. */
  public static Set<Integer> knownKinds() {
    return Collections.unmodifiableSet(KIND_NAMES.keySet());
  }

  /** The symbolic name of an error code, e.g. {@code NO_QUORUM}, else the number. */
  public static String errorCodeName(int code) {
    switch (code) {
      case ERROR_MALFORMED:
        return "MALFORMED";
      case ERROR_UNSUPPORTED:
        return "UNSUPPORTED";
      case ERROR_NOT_A_MEMBER:
        return "NOT_A_MEMBER";
      case ERROR_NO_QUORUM:
        return "NO_QUORUM";
      case ERROR_TIMEOUT:
        return "TIMEOUT";
      case ERROR_CLOSED:
        return "CLOSED";
      case ERROR_TOO_LARGE:
        return "TOO_LARGE";
      default:
        return Integer.toString(code);
    }
  }

  // ================================================================================================
  // Requests
  // ================================================================================================

  private static BopWireWriter request(int requestId, int kind, int payloadCapacity) {
    return BopFrame.start(BopFrame.FLAG_REQUEST, kind, requestId, payloadCapacity);
  }

  private static int len(String s) {
    // ASCII size; a longer UTF-8 encoding just grows the buffer once
    return 4 + s.length();
  }

  private static int len(byte[] b) {
    return 4 + b.length;
  }

  /** {@code NodeListRequest {}}. */
  public static byte[] nodeList(int requestId) {
    return BopFrame.finish(request(requestId, NODE_LIST_REQUEST, 0));
  }

  /** {@code SetNodeInfoRequest { node_id, info }}. */
  public static byte[] setNodeInfo(int requestId, String nodeId, byte[] info) {
    return BopFrame.finish(request(requestId, SET_NODE_INFO_REQUEST, len(nodeId) + len(info))
      .string(nodeId).bytes(info));
  }

  /** {@code GetNodeInfoRequest { node_id }}. */
  public static byte[] getNodeInfo(int requestId, String nodeId) {
    return BopFrame.finish(request(requestId, GET_NODE_INFO_REQUEST, len(nodeId)).string(nodeId));
  }

  /** {@code AddRegistrationRequest { address, registration }}. */
  public static byte[] addRegistration(int requestId, String address, String nodeId, long seq,
                                       boolean localOnly) {
    return BopFrame.finish(request(requestId, ADD_REGISTRATION_REQUEST, len(address) + len(nodeId) + 9)
      .string(address).registration(nodeId, seq, localOnly));
  }

  /** {@code AddRegistrationRequest} from Vert.x's {@link RegistrationInfo}. */
  public static byte[] addRegistration(int requestId, String address, RegistrationInfo registration) {
    return addRegistration(requestId, address, registration.nodeId(), registration.seq(),
      registration.localOnly());
  }

  /** {@code RemoveRegistrationRequest { address, registration }}: removes exactly the equal one. */
  public static byte[] removeRegistration(int requestId, String address, String nodeId, long seq,
                                          boolean localOnly) {
    return BopFrame.finish(request(requestId, REMOVE_REGISTRATION_REQUEST, len(address) + len(nodeId) + 9)
      .string(address).registration(nodeId, seq, localOnly));
  }

  /** {@code RemoveRegistrationRequest} from Vert.x's {@link RegistrationInfo}. */
  public static byte[] removeRegistration(int requestId, String address, RegistrationInfo registration) {
    return removeRegistration(requestId, address, registration.nodeId(), registration.seq(),
      registration.localOnly());
  }

  /** {@code GetRegistrationsRequest { address }}. */
  public static byte[] getRegistrations(int requestId, String address) {
    return BopFrame.finish(request(requestId, GET_REGISTRATIONS_REQUEST, len(address)).string(address));
  }

  /** {@code CreateMapRequest { name }}. */
  public static byte[] createMap(int requestId, String name) {
    return nameOnly(requestId, CREATE_MAP_REQUEST, name);
  }

  /** {@code MapGetRequest { map_name, key }}. */
  public static byte[] mapGet(int requestId, String map, byte[] key) {
    return nameKey(requestId, MAP_GET_REQUEST, map, key);
  }

  /** {@code MapPutRequest { map_name, key, value }}: a plain put clears any TTL. */
  public static byte[] mapPut(int requestId, String map, byte[] key, byte[] value) {
    return nameKeyValue(requestId, MAP_PUT_REQUEST, map, key, value);
  }

  /** {@code MapPutTtlRequest { map_name, key, value, ttl_ms }}. */
  public static byte[] mapPutTtl(int requestId, String map, byte[] key, byte[] value, long ttlMs) {
    return nameKeyValueTtl(requestId, MAP_PUT_TTL_REQUEST, map, key, value, ttlMs);
  }

  /** {@code MapPutIfAbsentRequest { map_name, key, value }}. */
  public static byte[] mapPutIfAbsent(int requestId, String map, byte[] key, byte[] value) {
    return nameKeyValue(requestId, MAP_PUT_IF_ABSENT_REQUEST, map, key, value);
  }

  /** {@code MapPutIfAbsentTtlRequest { map_name, key, value, ttl_ms }}: the TTL applies on creation only. */
  public static byte[] mapPutIfAbsentTtl(int requestId, String map, byte[] key, byte[] value, long ttlMs) {
    return nameKeyValueTtl(requestId, MAP_PUT_IF_ABSENT_TTL_REQUEST, map, key, value, ttlMs);
  }

  /** {@code MapRemoveRequest { map_name, key }}. */
  public static byte[] mapRemove(int requestId, String map, byte[] key) {
    return nameKey(requestId, MAP_REMOVE_REQUEST, map, key);
  }

  /** {@code MapRemoveIfPresentRequest { map_name, key, value }}. */
  public static byte[] mapRemoveIfPresent(int requestId, String map, byte[] key, byte[] value) {
    return nameKeyValue(requestId, MAP_REMOVE_IF_PRESENT_REQUEST, map, key, value);
  }

  /** {@code MapReplaceRequest { map_name, key, value }}: a missing key creates nothing. */
  public static byte[] mapReplace(int requestId, String map, byte[] key, byte[] value) {
    return nameKeyValue(requestId, MAP_REPLACE_REQUEST, map, key, value);
  }

  /** {@code MapReplaceTtlRequest { map_name, key, value, ttl_ms }}. */
  public static byte[] mapReplaceTtl(int requestId, String map, byte[] key, byte[] value, long ttlMs) {
    return nameKeyValueTtl(requestId, MAP_REPLACE_TTL_REQUEST, map, key, value, ttlMs);
  }

  /** {@code MapReplaceIfPresentRequest { map_name, key, old_value, new_value }}. */
  public static byte[] mapReplaceIfPresent(int requestId, String map, byte[] key, byte[] oldValue,
                                           byte[] newValue) {
    return BopFrame.finish(request(requestId, MAP_REPLACE_IF_PRESENT_REQUEST,
      len(map) + len(key) + len(oldValue) + len(newValue))
      .string(map).bytes(key).bytes(oldValue).bytes(newValue));
  }

  /** {@code MapReplaceIfPresentTtlRequest { map_name, key, old_value, new_value, ttl_ms }}. */
  public static byte[] mapReplaceIfPresentTtl(int requestId, String map, byte[] key, byte[] oldValue,
                                              byte[] newValue, long ttlMs) {
    return BopFrame.finish(request(requestId, MAP_REPLACE_IF_PRESENT_TTL_REQUEST,
      len(map) + len(key) + len(oldValue) + len(newValue) + 8)
      .string(map).bytes(key).bytes(oldValue).bytes(newValue).u64(ttlMs));
  }

  /** {@code MapClearRequest { map_name }}. */
  public static byte[] mapClear(int requestId, String map) {
    return nameOnly(requestId, MAP_CLEAR_REQUEST, map);
  }

  /** {@code MapSizeRequest { map_name }}. */
  public static byte[] mapSize(int requestId, String map) {
    return nameOnly(requestId, MAP_SIZE_REQUEST, map);
  }

  /** {@code MapKeysRequest { map_name }}. */
  public static byte[] mapKeys(int requestId, String map) {
    return nameOnly(requestId, MAP_KEYS_REQUEST, map);
  }

  /** {@code MapValuesRequest { map_name }}. */
  public static byte[] mapValues(int requestId, String map) {
    return nameOnly(requestId, MAP_VALUES_REQUEST, map);
  }

  /** {@code MapEntriesRequest { map_name }}. */
  public static byte[] mapEntries(int requestId, String map) {
    return nameOnly(requestId, MAP_ENTRIES_REQUEST, map);
  }

  /** {@code CreateCounterRequest { name }}. */
  public static byte[] createCounter(int requestId, String name) {
    return nameOnly(requestId, CREATE_COUNTER_REQUEST, name);
  }

  /** {@code CounterGetRequest { counter_name }}. */
  public static byte[] counterGet(int requestId, String counter) {
    return nameOnly(requestId, COUNTER_GET_REQUEST, counter);
  }

  /** {@code CounterAddAndGetRequest { counter_name, delta }}. */
  public static byte[] counterAddAndGet(int requestId, String counter, long delta) {
    return BopFrame.finish(request(requestId, COUNTER_ADD_AND_GET_REQUEST, len(counter) + 8)
      .string(counter).i64(delta));
  }

  /** {@code CounterGetAndAddRequest { counter_name, delta }}. */
  public static byte[] counterGetAndAdd(int requestId, String counter, long delta) {
    return BopFrame.finish(request(requestId, COUNTER_GET_AND_ADD_REQUEST, len(counter) + 8)
      .string(counter).i64(delta));
  }

  /** {@code CounterCompareAndSetRequest { counter_name, expected, value }}. */
  public static byte[] counterCompareAndSet(int requestId, String counter, long expected, long value) {
    return BopFrame.finish(request(requestId, COUNTER_COMPARE_AND_SET_REQUEST, len(counter) + 16)
      .string(counter).i64(expected).i64(value));
  }

  /** {@code CreateLockRequest { name }}. */
  public static byte[] createLock(int requestId, String name) {
    return nameOnly(requestId, CREATE_LOCK_REQUEST, name);
  }

  /** {@code LockAcquireRequest { lock_name }}: waits without a deadline. */
  public static byte[] lockAcquire(int requestId, String lock) {
    return nameOnly(requestId, LOCK_ACQUIRE_REQUEST, lock);
  }

  /** {@code LockAcquireTimeoutRequest { lock_name, timeout_ms }}: 0 fails at once when held. */
  public static byte[] lockAcquireTimeout(int requestId, String lock, long timeoutMs) {
    return BopFrame.finish(request(requestId, LOCK_ACQUIRE_TIMEOUT_REQUEST, len(lock) + 8)
      .string(lock).u64(timeoutMs));
  }

  /** {@code LockReleaseRequest { lock_name }}. */
  public static byte[] lockRelease(int requestId, String lock) {
    return nameOnly(requestId, LOCK_RELEASE_REQUEST, lock);
  }

  /** {@code LockCancelRequest { lock_name, acquire_request_id }}: withdraws an acquire: its queued wait, or its grant. */
  public static byte[] lockCancel(int requestId, String lock, int acquireRequestId) {
    return BopFrame.finish(request(requestId, LOCK_CANCEL_REQUEST, len(lock) + 4)
      .string(lock).u32(acquireRequestId));
  }

  /** {@code SyncMapPutRequest { map_name, key, value }}. */
  public static byte[] syncMapPut(int requestId, String map, byte[] key, byte[] value) {
    return nameKeyValue(requestId, SYNC_MAP_PUT_REQUEST, map, key, value);
  }

  /** {@code SyncMapGetRequest { map_name, key }}. */
  public static byte[] syncMapGet(int requestId, String map, byte[] key) {
    return nameKey(requestId, SYNC_MAP_GET_REQUEST, map, key);
  }

  /** {@code SyncMapRemoveRequest { map_name, key }}. */
  public static byte[] syncMapRemove(int requestId, String map, byte[] key) {
    return nameKey(requestId, SYNC_MAP_REMOVE_REQUEST, map, key);
  }

  /** {@code SyncMapContainsRequest { map_name, key }}. */
  public static byte[] syncMapContains(int requestId, String map, byte[] key) {
    return nameKey(requestId, SYNC_MAP_CONTAINS_REQUEST, map, key);
  }

  /** {@code SyncMapEntriesRequest { map_name }}. */
  public static byte[] syncMapEntries(int requestId, String map) {
    return nameOnly(requestId, SYNC_MAP_ENTRIES_REQUEST, map);
  }

  private static byte[] nameOnly(int requestId, int kind, String name) {
    return BopFrame.finish(request(requestId, kind, len(name)).string(name));
  }

  private static byte[] nameKey(int requestId, int kind, String name, byte[] key) {
    return BopFrame.finish(request(requestId, kind, len(name) + len(key)).string(name).bytes(key));
  }

  private static byte[] nameKeyValue(int requestId, int kind, String name, byte[] key, byte[] value) {
    return BopFrame.finish(request(requestId, kind, len(name) + len(key) + len(value))
      .string(name).bytes(key).bytes(value));
  }

  private static byte[] nameKeyValueTtl(int requestId, int kind, String name, byte[] key, byte[] value,
                                        long ttlMs) {
    return BopFrame.finish(request(requestId, kind, len(name) + len(key) + len(value) + 8)
      .string(name).bytes(key).bytes(value).u64(ttlMs));
  }
}
