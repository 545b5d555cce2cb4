package io.vertx.spi.cluster.bop.impl.wire;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.RegistrationInfo;
import org.junit.BeforeClass;
import org.junit.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * Pins the Java codec to the Rust one through the golden vectors of {@code tests/vectors/} (the
 * directory comes from the system property {@code bop.vectors.dir}, set by the pom): every frame's
 * header decodes to the manifest's values, every request Java sends encodes to the file's exact
 * bytes, and every response Java reads decodes to the manifest's field values. Corruption and
 * hostile lengths are refused without allocating.
 */
public class GoldenVectorsTest {

  private static Path dir;
  private static List<JsonObject> vectors;

  @BeforeClass
  public static void readManifest() throws IOException {
    dir = Paths.get(System.getProperty("bop.vectors.dir", "../tests/vectors"));
    Path manifest = dir.resolve("manifest.json");
    assertTrue("no manifest at " + manifest.toAbsolutePath() + " (set -Dbop.vectors.dir)",
      Files.isRegularFile(manifest));
    JsonObject root = new JsonObject(new String(Files.readAllBytes(manifest), StandardCharsets.UTF_8));
    assertEquals(BopFrame.PROTOCOL_VERSION, (int) root.getInteger("protocol_version"));
    assertEquals(BopFrame.HEADER_SIZE, (int) root.getInteger("header_size"));
    vectors = new ArrayList<>();
    for (Object v : root.getJsonArray("vectors")) {
      vectors.add((JsonObject) v);
    }
    assertFalse("manifest lists no vectors", vectors.isEmpty());
  }

  private static byte[] file(JsonObject vector) throws IOException {
    return Files.readAllBytes(dir.resolve(vector.getString("file")));
  }

  @Test
  public void every_frame_header_matches_the_manifest() throws IOException {
    for (JsonObject v : vectors) {
      String name = v.getString("name");
      byte[] bytes = file(v);
      assertEquals(name + " size", (long) v.getLong("size"), bytes.length);
      BopFrame frame = BopFrame.decode(bytes);
      assertEquals(name + " checksum", v.getString("checksum"), String.format("%08x", frame.checksum()));
      assertEquals(name + " version", (int) v.getInteger("protocol_version"), frame.protocolVersion());
      assertEquals(name + " flags", (int) v.getInteger("flags"), frame.flags());
      assertEquals(name + " kind", (int) v.getInteger("message_kind"), frame.kind());
      assertEquals(name + " request id", (long) v.getLong("request_id"),
        Integer.toUnsignedLong(frame.requestId()));
      assertEquals(name + " is response", (frame.kind() & 0x8000) != 0, frame.isResponse());
      assertEquals(name + " request id peek", frame.requestId(), BopFrame.peekRequestId(bytes));
      if (BopMessages.knownKinds().contains(frame.kind())) {
        assertEquals(name + " kind name", v.getString("message"), BopMessages.kindName(frame.kind()));
      }
    }
  }

  @Test
  public void every_request_java_sends_encodes_to_the_vector_bytes() throws IOException {
    int checked = 0;
    for (JsonObject v : vectors) {
      int kind = v.getInteger("message_kind");
      if ((kind & BopFrame.RESPONSE_KIND_BIT) != 0 || !BopMessages.knownKinds().contains(kind)) {
        continue;
      }
      String name = v.getString("name");
      int requestId = (int) (long) v.getLong("request_id");
      byte[] expected = file(v);
      byte[] encoded = encodeRequest(kind, requestId, v.getJsonObject("fields"));
      int flags = v.getInteger("flags");
      if (flags == BopFrame.FLAG_REQUEST) {
        assertArrayEquals(name, expected, encoded);
      } else {
        // the helpers always set REQUEST: compare the payload, then frame it with the vector's flags
        byte[] payload = BopFrame.decode(encoded).payload();
        assertArrayEquals(name + " payload", BopFrame.decode(expected).payload(), payload);
        assertArrayEquals(name, expected, BopFrame.encode(flags, kind, requestId, payload));
      }
      checked++;
    }
    assertTrue("only " + checked + " request vectors checked", checked >= 20);
  }

  @Test
  public void every_frame_re_encodes_from_its_header_and_payload() throws IOException {
    for (JsonObject v : vectors) {
      byte[] bytes = file(v);
      BopFrame frame = BopFrame.decode(bytes);
      assertArrayEquals(v.getString("name"), bytes,
        BopFrame.encode(frame.flags(), frame.kind(), frame.requestId(), frame.payload()));
    }
  }

  @Test
  public void every_response_java_reads_decodes_to_the_manifest_fields() throws IOException {
    int checked = 0;
    for (JsonObject v : vectors) {
      int kind = v.getInteger("message_kind");
      if ((kind & BopFrame.RESPONSE_KIND_BIT) == 0 || !BopMessages.knownKinds().contains(kind)) {
        continue;
      }
      checkResponse(v.getString("name"), BopFrame.decode(file(v)), v.getJsonObject("fields"));
      checked++;
    }
    assertTrue("only " + checked + " response vectors checked", checked >= 20);
  }

  @Test
  public void registration_lists_of_listener_events_decode() throws IOException {
    // onRegistrationsChanged carries exactly the payload of a GetRegistrationsResponse
    for (JsonObject v : vectors) {
      if (v.getInteger("message_kind") != BopMessages.GET_REGISTRATIONS_RESPONSE) {
        continue;
      }
      byte[] payload = BopFrame.decode(file(v)).payload();
      assertRegistrations(v.getString("name"), v.getJsonObject("fields").getJsonArray("registrations"),
        BopResponses.registrationList(payload));
    }
    try {
      BopResponses.registrationList(new byte[]{0, 0, 0, 0, 0});
      fail("trailing byte accepted");
    } catch (IllegalArgumentException expected) {
      assertTrue(expected.getMessage(), expected.getMessage().contains("unexpected bytes"));
    }
  }

  @Test
  public void any_single_byte_corruption_is_refused() throws IOException {
    for (JsonObject v : vectors) {
      byte[] good = file(v);
      for (int i = 0; i < good.length; i++) {
        for (int pattern : new int[]{0x01, 0x80, 0xff}) {
          byte[] bad = good.clone();
          bad[i] ^= (byte) pattern;
          try {
            BopFrame.decode(bad);
            fail(v.getString("name") + ": byte " + i + " ^ " + pattern + " accepted");
          } catch (IllegalArgumentException expected) {
            assertNotNull(expected.getMessage());
          }
        }
      }
    }
  }

  @Test
  public void frame_errors_name_what_is_wrong() {
    byte[] good = BopMessages.mapSize(9, "m");
    assertEquals("MapSizeRequest", BopMessages.kindName(BopFrame.decode(good).kind()));
    assertError("short frame", () -> BopFrame.decode(Arrays.copyOf(good, 10)));
    assertError("declares", () -> BopFrame.decode(Arrays.copyOf(good, good.length + 1)));
    assertError("exceeds the maximum", () -> BopFrame.decode(good, 16));
    byte[] badCrc = good.clone();
    badCrc[good.length - 1] ^= 1;
    assertError("bad checksum", () -> BopFrame.decode(badCrc));
    byte[] v1 = good.clone();
    v1[8] = 1;
    // re-seal the version-1 frame (an earlier build's) so only the version is wrong
    int crc = crc(v1);
    v1[0] = (byte) crc;
    v1[1] = (byte) (crc >>> 8);
    v1[2] = (byte) (crc >>> 16);
    v1[3] = (byte) (crc >>> 24);
    assertError("unsupported protocol version 1", () -> BopFrame.decode(v1));
    assertEquals(BopFrame.HEADER_SIZE, BopFrame.encode(0, 0, 0, new byte[0]).length);
  }

  @Test
  public void hostile_lengths_fail_before_allocating() {
    // a keys response claiming 2^32-1 items in a 4-byte payload
    byte[] frame = BopFrame.encode(BopFrame.FLAG_RESPONSE, BopMessages.MAP_KEYS_RESPONSE, 1,
      new byte[]{(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
    assertError("field `keys` claims", () -> BopResponses.byteStrings(BopFrame.decode(frame)));
    // a map get response whose value claims 2 GiB
    byte[] get = BopFrame.encode(BopFrame.FLAG_RESPONSE, BopMessages.MAP_GET_RESPONSE, 1,
      new byte[]{1, 0, 0, 0, (byte) 0x80});
    assertError("field `value` claims 2147483648 bytes", () -> BopResponses.optionalBytes(BopFrame.decode(get)));
    // a registrations list claiming more items than 13-byte minimum entries could fill
    assertError("claims", () -> BopResponses.registrationList(new byte[]{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    // bad tags and UTF-8
    byte[] badBool = BopFrame.encode(BopFrame.FLAG_RESPONSE, BopMessages.MAP_REMOVE_IF_PRESENT_RESPONSE, 1, new byte[]{2});
    assertError("field `removed` has invalid tag 2", () -> BopResponses.bool(BopFrame.decode(badBool)));
    byte[] badUtf8 = BopFrame.encode(BopFrame.FLAG_RESPONSE, BopMessages.NODE_LIST_RESPONSE, 1,
      new byte[]{1, 0, 0, 0, 1, 0, 0, 0, (byte) 0xc3});
    assertError("not valid UTF-8", () -> BopResponses.strings(BopFrame.decode(badUtf8)));
  }

  @Test
  public void decoders_refuse_a_response_of_another_shape() {
    byte[] error = BopFrame.encode(BopFrame.FLAG_RESPONSE, BopMessages.ERROR_RESPONSE, 3,
      new BopWireWriter().u16(BopMessages.ERROR_NO_QUORUM).string("no quorum").toByteArray());
    BopFrame frame = BopFrame.decode(error);
    assertTrue(frame.isError());
    assertError("ErrorResponse is not an optional-bytes response", () -> BopResponses.optionalBytes(frame));
    BopResponses.ErrorResponse decoded = BopResponses.error(frame);
    assertEquals(BopMessages.ERROR_NO_QUORUM, decoded.code());
    assertEquals("NO_QUORUM: no quorum", decoded.toString());
  }

  @Test
  public void strings_that_utf8_cannot_carry_are_refused() {
    assertError("unpaired surrogate at index 1", () -> BopMessages.getRegistrations(1, "a\ud800b"));
    assertError("unpaired surrogate at index 0", () -> BopMessages.getRegistrations(1, "\udc00"));
    // a proper pair is fine, and round-trips
    byte[] frame = BopMessages.getRegistrations(1, "crab \ud83e\udd80");
    BopWireReader r = BopFrame.decode(frame).payloadReader();
    assertEquals("crab \ud83e\udd80", r.string("address"));
    r.finish();
  }

  // ---- request encoding from manifest fields -------------------------------------------------------

  private static byte[] encodeRequest(int kind, int id, JsonObject f) {
    switch (kind) {
      case BopMessages.NODE_LIST_REQUEST:
        return BopMessages.nodeList(id);
      case BopMessages.SET_NODE_INFO_REQUEST:
        return BopMessages.setNodeInfo(id, f.getString("node_id"), hex(f.getString("info")));
      case BopMessages.GET_NODE_INFO_REQUEST:
        return BopMessages.getNodeInfo(id, f.getString("node_id"));
      case BopMessages.ADD_REGISTRATION_REQUEST:
        return BopMessages.addRegistration(id, f.getString("address"), registration(f.getJsonObject("registration")));
      case BopMessages.REMOVE_REGISTRATION_REQUEST: {
        RegistrationInfo r = registration(f.getJsonObject("registration"));
        return BopMessages.removeRegistration(id, f.getString("address"), r.nodeId(), r.seq(), r.localOnly());
      }
      case BopMessages.GET_REGISTRATIONS_REQUEST:
        return BopMessages.getRegistrations(id, f.getString("address"));
      case BopMessages.CREATE_MAP_REQUEST:
        return BopMessages.createMap(id, f.getString("name"));
      case BopMessages.MAP_GET_REQUEST:
        return BopMessages.mapGet(id, f.getString("map_name"), hex(f.getString("key")));
      case BopMessages.MAP_PUT_REQUEST:
        return BopMessages.mapPut(id, f.getString("map_name"), hex(f.getString("key")), hex(f.getString("value")));
      case BopMessages.MAP_PUT_TTL_REQUEST:
        return BopMessages.mapPutTtl(id, f.getString("map_name"), hex(f.getString("key")), hex(f.getString("value")),
          u64(f.getString("ttl_ms")));
      case BopMessages.MAP_PUT_IF_ABSENT_REQUEST:
        return BopMessages.mapPutIfAbsent(id, f.getString("map_name"), hex(f.getString("key")),
          hex(f.getString("value")));
      case BopMessages.MAP_PUT_IF_ABSENT_TTL_REQUEST:
        return BopMessages.mapPutIfAbsentTtl(id, f.getString("map_name"), hex(f.getString("key")),
          hex(f.getString("value")), u64(f.getString("ttl_ms")));
      case BopMessages.MAP_REMOVE_REQUEST:
        return BopMessages.mapRemove(id, f.getString("map_name"), hex(f.getString("key")));
      case BopMessages.MAP_REMOVE_IF_PRESENT_REQUEST:
        return BopMessages.mapRemoveIfPresent(id, f.getString("map_name"), hex(f.getString("key")),
          hex(f.getString("value")));
      case BopMessages.MAP_REPLACE_REQUEST:
        return BopMessages.mapReplace(id, f.getString("map_name"), hex(f.getString("key")), hex(f.getString("value")));
      case BopMessages.MAP_REPLACE_TTL_REQUEST:
        return BopMessages.mapReplaceTtl(id, f.getString("map_name"), hex(f.getString("key")),
          hex(f.getString("value")), u64(f.getString("ttl_ms")));
      case BopMessages.MAP_REPLACE_IF_PRESENT_REQUEST:
        return BopMessages.mapReplaceIfPresent(id, f.getString("map_name"), hex(f.getString("key")),
          hex(f.getString("old_value")), hex(f.getString("new_value")));
      case BopMessages.MAP_REPLACE_IF_PRESENT_TTL_REQUEST:
        return BopMessages.mapReplaceIfPresentTtl(id, f.getString("map_name"), hex(f.getString("key")),
          hex(f.getString("old_value")), hex(f.getString("new_value")), u64(f.getString("ttl_ms")));
      case BopMessages.MAP_CLEAR_REQUEST:
        return BopMessages.mapClear(id, f.getString("map_name"));
      case BopMessages.MAP_SIZE_REQUEST:
        return BopMessages.mapSize(id, f.getString("map_name"));
      case BopMessages.MAP_KEYS_REQUEST:
        return BopMessages.mapKeys(id, f.getString("map_name"));
      case BopMessages.MAP_VALUES_REQUEST:
        return BopMessages.mapValues(id, f.getString("map_name"));
      case BopMessages.MAP_ENTRIES_REQUEST:
        return BopMessages.mapEntries(id, f.getString("map_name"));
      case BopMessages.CREATE_COUNTER_REQUEST:
        return BopMessages.createCounter(id, f.getString("name"));
      case BopMessages.COUNTER_GET_REQUEST:
        return BopMessages.counterGet(id, f.getString("counter_name"));
      case BopMessages.COUNTER_ADD_AND_GET_REQUEST:
        return BopMessages.counterAddAndGet(id, f.getString("counter_name"), Long.parseLong(f.getString("delta")));
      case BopMessages.COUNTER_GET_AND_ADD_REQUEST:
        return BopMessages.counterGetAndAdd(id, f.getString("counter_name"), Long.parseLong(f.getString("delta")));
      case BopMessages.COUNTER_COMPARE_AND_SET_REQUEST:
        return BopMessages.counterCompareAndSet(id, f.getString("counter_name"),
          Long.parseLong(f.getString("expected")), Long.parseLong(f.getString("value")));
      case BopMessages.CREATE_LOCK_REQUEST:
        return BopMessages.createLock(id, f.getString("name"));
      case BopMessages.LOCK_ACQUIRE_REQUEST:
        return BopMessages.lockAcquire(id, f.getString("lock_name"));
      case BopMessages.LOCK_ACQUIRE_TIMEOUT_REQUEST:
        return BopMessages.lockAcquireTimeout(id, f.getString("lock_name"), u64(f.getString("timeout_ms")));
      case BopMessages.LOCK_RELEASE_REQUEST:
        return BopMessages.lockRelease(id, f.getString("lock_name"));
      case BopMessages.LOCK_CANCEL_REQUEST:
        return BopMessages.lockCancel(id, f.getString("lock_name"), (int) (long) f.getLong("acquire_request_id"));
      case BopMessages.SYNC_MAP_PUT_REQUEST:
        return BopMessages.syncMapPut(id, f.getString("map_name"), hex(f.getString("key")), hex(f.getString("value")));
      case BopMessages.SYNC_MAP_GET_REQUEST:
        return BopMessages.syncMapGet(id, f.getString("map_name"), hex(f.getString("key")));
      case BopMessages.SYNC_MAP_REMOVE_REQUEST:
        return BopMessages.syncMapRemove(id, f.getString("map_name"), hex(f.getString("key")));
      case BopMessages.SYNC_MAP_CONTAINS_REQUEST:
        return BopMessages.syncMapContains(id, f.getString("map_name"), hex(f.getString("key")));
      case BopMessages.SYNC_MAP_ENTRIES_REQUEST:
        return BopMessages.syncMapEntries(id, f.getString("map_name"));
      default:
        throw new AssertionError("BopMessages knows " + BopMessages.kindName(kind) + " but the test cannot encode it");
    }
  }

  // ---- response decoding against manifest fields ----------------------------------------------------

  private static void checkResponse(String name, BopFrame frame, JsonObject f) {
    switch (frame.kind()) {
      case BopMessages.ERROR_RESPONSE: {
        BopResponses.ErrorResponse e = BopResponses.error(frame);
        assertEquals(name, (int) f.getInteger("code"), e.code());
        assertEquals(name, f.getString("message"), e.message());
        return;
      }
      case BopMessages.SET_NODE_INFO_RESPONSE:
      case BopMessages.ADD_REGISTRATION_RESPONSE:
      case BopMessages.CREATE_MAP_RESPONSE:
      case BopMessages.MAP_PUT_RESPONSE:
      case BopMessages.MAP_PUT_TTL_RESPONSE:
      case BopMessages.MAP_CLEAR_RESPONSE:
      case BopMessages.CREATE_LOCK_RESPONSE:
        assertTrue(name + " has fields", f.isEmpty());
        BopResponses.empty(frame);
        return;
      case BopMessages.GET_NODE_INFO_RESPONSE:
      case BopMessages.MAP_GET_RESPONSE:
      case BopMessages.MAP_PUT_IF_ABSENT_RESPONSE:
      case BopMessages.MAP_PUT_IF_ABSENT_TTL_RESPONSE:
      case BopMessages.MAP_REMOVE_RESPONSE:
      case BopMessages.MAP_REPLACE_RESPONSE:
      case BopMessages.MAP_REPLACE_TTL_RESPONSE:
      case BopMessages.SYNC_MAP_PUT_RESPONSE:
      case BopMessages.SYNC_MAP_GET_RESPONSE:
      case BopMessages.SYNC_MAP_REMOVE_RESPONSE: {
        Object expected = only(name, f);
        byte[] actual = BopResponses.optionalBytes(frame);
        if (expected == null) {
          assertNull(name, actual);
        } else {
          assertArrayEquals(name, hex((String) expected), actual);
        }
        return;
      }
      case BopMessages.REMOVE_REGISTRATION_RESPONSE:
      case BopMessages.MAP_REMOVE_IF_PRESENT_RESPONSE:
      case BopMessages.MAP_REPLACE_IF_PRESENT_RESPONSE:
      case BopMessages.MAP_REPLACE_IF_PRESENT_TTL_RESPONSE:
      case BopMessages.COUNTER_COMPARE_AND_SET_RESPONSE:
      case BopMessages.LOCK_RELEASE_RESPONSE:
      case BopMessages.LOCK_CANCEL_RESPONSE:
      case BopMessages.SYNC_MAP_CONTAINS_RESPONSE:
        assertEquals(name, only(name, f), BopResponses.bool(frame));
        return;
      case BopMessages.MAP_SIZE_RESPONSE:
        assertEquals(name, only(name, f), Long.toUnsignedString(BopResponses.u64(frame)));
        return;
      case BopMessages.CREATE_COUNTER_RESPONSE:
      case BopMessages.COUNTER_GET_RESPONSE:
      case BopMessages.COUNTER_ADD_AND_GET_RESPONSE:
      case BopMessages.COUNTER_GET_AND_ADD_RESPONSE:
        assertEquals(name, only(name, f), Long.toString(BopResponses.i64(frame)));
        return;
      case BopMessages.MAP_KEYS_RESPONSE:
      case BopMessages.MAP_VALUES_RESPONSE: {
        JsonArray expected = (JsonArray) only(name, f);
        List<byte[]> actual = BopResponses.byteStrings(frame);
        assertEquals(name, expected.size(), actual.size());
        for (int i = 0; i < actual.size(); i++) {
          assertArrayEquals(name + "[" + i + "]", hex(expected.getString(i)), actual.get(i));
        }
        return;
      }
      case BopMessages.NODE_LIST_RESPONSE:
        assertEquals(name, ((JsonArray) only(name, f)).getList(), BopResponses.strings(frame));
        return;
      case BopMessages.MAP_ENTRIES_RESPONSE:
      case BopMessages.SYNC_MAP_ENTRIES_RESPONSE: {
        JsonArray expected = (JsonArray) only(name, f);
        List<Map.Entry<byte[], byte[]>> actual = BopResponses.entries(frame);
        assertEquals(name, expected.size(), actual.size());
        for (int i = 0; i < actual.size(); i++) {
          JsonObject e = expected.getJsonObject(i);
          assertArrayEquals(name + "[" + i + "].key", hex(e.getString("key")), actual.get(i).getKey());
          assertArrayEquals(name + "[" + i + "].value", hex(e.getString("value")), actual.get(i).getValue());
        }
        return;
      }
      case BopMessages.GET_REGISTRATIONS_RESPONSE:
        assertRegistrations(name, (JsonArray) only(name, f), BopResponses.registrations(frame));
        return;
      case BopMessages.LOCK_ACQUIRE_RESPONSE:
      case BopMessages.LOCK_ACQUIRE_TIMEOUT_RESPONSE: {
        BopResponses.LockAcquireResult result = BopResponses.lockAcquire(frame);
        assertEquals(name, f.getBoolean("granted"), result.granted());
        assertEquals(name, f.getString("fencing_token"), Long.toUnsignedString(result.fencingToken()));
        return;
      }
      default:
        throw new AssertionError("BopMessages knows " + BopMessages.kindName(frame.kind())
          + " but the test cannot check it");
    }
  }

  private static void assertRegistrations(String name, JsonArray expected, List<RegistrationInfo> actual) {
    assertEquals(name, expected.size(), actual.size());
    for (int i = 0; i < actual.size(); i++) {
      assertEquals(name + "[" + i + "]", registration(expected.getJsonObject(i)), actual.get(i));
    }
  }

  private static Object only(String name, JsonObject fields) {
    assertEquals(name + " field count", 1, fields.size());
    return fields.getValue(fields.fieldNames().iterator().next());
  }

  private static RegistrationInfo registration(JsonObject r) {
    return new RegistrationInfo(r.getString("node_id"), u64(r.getString("seq")), r.getBoolean("local_only"));
  }

  private static long u64(String decimal) {
    return Long.parseUnsignedLong(decimal);
  }

  private static byte[] hex(String s) {
    assertEquals("odd hex length: " + s, 0, s.length() % 2);
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return out;
  }

  private static int crc(byte[] frame) {
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(frame, 4, frame.length - 4);
    return (int) crc.getValue();
  }

  private static void assertError(String fragment, Runnable action) {
    try {
      action.run();
    } catch (IllegalArgumentException e) {
      assertTrue("message '" + e.getMessage() + "' lacks '" + fragment + "'", e.getMessage().contains(fragment));
      return;
    }
    fail("no IllegalArgumentException (expected one saying '" + fragment + "')");
  }
}
