package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.ClusterSerializable;
import org.junit.Test;

import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * {@link BopValueCodec}: every supported type round-trips to an equal value, equal values encode to
 * equal bytes, and Java serialization refuses any class outside the allow-list, on the way in and
 * on the way out, before a gadget's {@code readObject} can run.
 */
public class BopValueCodecTest {

  private static final String THIS_PACKAGE = BopValueCodecTest.class.getPackage().getName() + ".*";

  private final BopValueCodec codec = new BopValueCodec(null, Collections.singletonList(THIS_PACKAGE));
  private final BopValueCodec strict = new BopValueCodec(null, null);

  // ---- round trips -------------------------------------------------------------------------------

  @Test
  public void boxed_primitives_round_trip() {
    for (Object value : Arrays.asList(
      (byte) 0, Byte.MIN_VALUE, Byte.MAX_VALUE,
      (short) -2, Short.MIN_VALUE, Short.MAX_VALUE,
      0, -1, Integer.MIN_VALUE, Integer.MAX_VALUE,
      0L, -1L, Long.MIN_VALUE, Long.MAX_VALUE,
      'a', '\u0000', '\uffff', '\ud800',
      0f, -0f, 1.5f, Float.NaN, Float.NEGATIVE_INFINITY, Float.MIN_VALUE,
      0d, -0d, Math.PI, Double.NaN, Double.POSITIVE_INFINITY, Double.MIN_VALUE,
      true, false)) {
      assertRoundTrip(value);
    }
  }

  @Test
  public void strings_round_trip() {
    for (String value : Arrays.asList("", "plain", "nul \u0000 inside", "Zürich-ノード-\ud83e\udd80",
      "lone high \ud800 surrogate", "lone low \udc00", "\ud83e")) {
      assertRoundTrip(value);
    }
  }

  @Test
  public void buffers_of_any_implementation_round_trip() {
    byte[] bytes = {0, 1, 2, (byte) 0xff};
    assertRoundTrip(Buffer.buffer(bytes));
    assertRoundTrip(Buffer.buffer());
    Buffer slice = Buffer.buffer("xxhelloxx").slice(2, 7);
    Object decoded = codec.decode(codec.encode(slice));
    assertTrue(decoded instanceof Buffer);
    assertEquals(Buffer.buffer("hello"), decoded);
    assertArrayEquals(codec.encode(Buffer.buffer("hello")), codec.encode(slice));
  }

  @Test
  public void byte_arrays_round_trip() {
    for (byte[] value : Arrays.asList(new byte[0], new byte[]{1, 2, 3}, new byte[1000])) {
      Object decoded = codec.decode(codec.encode(value));
      assertTrue(decoded instanceof byte[]);
      assertArrayEquals(value, (byte[]) decoded);
    }
  }

  @Test
  public void json_round_trips() {
    JsonObject object = new JsonObject().put("s", "x").put("n", 1).put("b", true).put("nil", (Object) null)
      .put("nested", new JsonObject().put("a", new JsonArray().add(1).add("two")));
    assertRoundTrip(object);
    assertRoundTrip(new JsonObject());
    assertRoundTrip(new JsonArray().add(1).add("two").add(new JsonObject().put("k", "v")).addNull());
    assertRoundTrip(new JsonArray());
  }

  @Test
  public void cluster_serializables_round_trip_through_write_and_read_from_buffer() {
    Pojo pojo = new Pojo("hello");
    byte[] bytes = codec.encode(pojo);
    assertTrue(new String(bytes, StandardCharsets.UTF_8).contains(Pojo.class.getName()));
    assertEquals(pojo, codec.decode(bytes));
  }

  @Test
  public void cluster_serializables_load_through_the_fallback_loader() {
    byte[] bytes = codec.encode(new Pojo("via fallback"));
    Thread thread = Thread.currentThread();
    ClassLoader saved = thread.getContextClassLoader();
    // a context loader that sees only the JDK: the codec falls back to its own loader
    thread.setContextClassLoader(new ClassLoader(null) {
    });
    try {
      assertEquals(new Pojo("via fallback"), codec.decode(bytes));
    } finally {
      thread.setContextClassLoader(saved);
    }
  }

  @Test
  public void allowed_serializables_round_trip() {
    Map<String, Object> map = new HashMap<>();
    map.put("list", new ArrayList<>(Arrays.asList(1, "two", 3L)));
    map.put("when", LocalDate.of(2024, 2, 29));
    for (Object value : Arrays.asList(
      new ArrayList<>(Arrays.asList("a", "b")), map, new BigDecimal("3.14159"), BigInteger.TEN.pow(40),
      Instant.ofEpochSecond(1_700_000_000L, 5), Duration.ofMillis(1500), UUID.randomUUID())) {
      assertRoundTrip(value);
    }
    Object strings = codec.decode(codec.encode(new String[]{"x", "y"}));
    assertArrayEquals(new String[]{"x", "y"}, (String[]) strings);
    Object ints = codec.decode(codec.encode(new int[][]{{1}, {2, 3}}));
    assertArrayEquals(new int[][]{{1}, {2, 3}}, (int[][]) ints);
  }

  @Test
  public void a_user_serializable_round_trips_when_its_package_is_allowed() {
    assertRoundTrip(new SerializablePojo("user"));
    // subpackages need their own entry or pkg.**: java.util.* does not reach java.util.concurrent
    // (nor java.util.concurrent.locks, which ConcurrentHashMap's serial form uses)
    BopValueCodec concurrent = new BopValueCodec(null, Collections.singletonList("java.util.concurrent.**"));
    ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>(Collections.singletonMap("k", "v"));
    assertEquals(map, concurrent.decode(concurrent.encode(map)));
    try {
      strict.encode(map);
      fail("java.util.* let java.util.concurrent through");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("java.util.concurrent.ConcurrentHashMap"));
    }
  }

  // ---- determinism ---------------------------------------------------------------------------------

  @Test
  public void equal_values_encode_to_equal_bytes() {
    BopValueCodec other = new BopValueCodec(getClass().getClassLoader(), Collections.singletonList(THIS_PACKAGE));
    List<Object[]> pairs = Arrays.asList(
      new Object[]{"same", new String("same".toCharArray())},
      new Object[]{1234567, Integer.valueOf(1234567)},
      new Object[]{Float.NaN, Float.intBitsToFloat(0x7fc00001)},
      new Object[]{Double.NaN, Double.longBitsToDouble(0x7ff8000000000001L)},
      new Object[]{Buffer.buffer("abc"), Buffer.buffer().appendString("a").appendString("bc")},
      new Object[]{new JsonObject().put("a", 1).put("b", "c"), new JsonObject("{\"a\":1,\"b\":\"c\"}")},
      new Object[]{new JsonArray().add(1).add(2), new JsonArray("[1,2]")},
      new Object[]{new Pojo("p"), new Pojo("p")},
      new Object[]{new SerializablePojo("s"), new SerializablePojo("s")},
      new Object[]{new ArrayList<>(Arrays.asList(1, 2)), new ArrayList<>(Arrays.asList(1, 2))},
      new Object[]{new BigDecimal("1.50"), new BigDecimal("1.50")});
    for (Object[] pair : pairs) {
      assertEquals(pair[0], pair[1]);
      byte[] first = codec.encode(pair[0]);
      assertArrayEquals(String.valueOf(pair[0]), first, codec.encode(pair[1]));
      assertArrayEquals(String.valueOf(pair[0]), first, other.encode(pair[1]));
      assertArrayEquals(String.valueOf(pair[0]), first, codec.encode(codec.decode(first)));
    }
  }

  @Test
  public void different_types_never_share_bytes() {
    List<Object> values = Arrays.asList((byte) 1, (short) 1, 1, 1L, (char) 1, 1f, 1d, true, "1",
      Buffer.buffer(new byte[]{1}), new byte[]{1}, new JsonArray().add(1), new BigDecimal(1));
    for (int i = 0; i < values.size(); i++) {
      for (int j = i + 1; j < values.size(); j++) {
        assertFalse(values.get(i) + " vs " + values.get(j),
          Arrays.equals(codec.encode(values.get(i)), codec.encode(values.get(j))));
      }
    }
  }

  // ---- refusals ------------------------------------------------------------------------------------

  // ---- inputs the fuzzer found (BopValueCodecFuzzTest) ---------------------------------------------

  @Test
  public void json_whose_length_claims_gigabytes_is_refused_without_allocating_them() {
    for (byte tag : new byte[] {BopValueCodec.TAG_JSON_OBJECT, BopValueCodec.TAG_JSON_ARRAY}) {
      // The found input: a tag, then text read as a big-endian length of 1.7 GB.
      byte[] bytes = {tag, 0x68, 0x65, 0x6c, 0x6c, 0x75, 0x7a, 0x7a};
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> codec.decode(bytes));
      assertTrue(e.getMessage(), e.getMessage().contains("claims 1751477356 bytes but 3 follow"));
    }
  }

  @Test
  public void a_java_serialized_null_is_not_a_value() throws IOException {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.write(BopValueCodec.TAG_SERIALIZABLE);
    try (java.io.ObjectOutputStream o = new java.io.ObjectOutputStream(out)) {
      o.writeObject(null);
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> codec.decode(out.toByteArray()));
    assertTrue(e.getMessage(), e.getMessage().contains("null is not a value"));
  }

  @Test
  public void a_class_outside_the_allow_list_is_never_deserialized() {
    Gadget.triggered = false;
    // bytes a hostile or misconfigured node could write
    byte[] bytes = codec.encode(new Gadget("rm -rf /"));
    try {
      strict.decode(bytes);
      fail("Gadget deserialized");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getCause() instanceof InvalidClassException);
      assertTrue(e.getMessage(), e.getMessage().contains(Gadget.class.getName()));
      assertEquals(Gadget.class.getName(), ((InvalidClassException) e.getCause()).classname);
    }
    assertFalse("the gadget's readObject ran", Gadget.triggered);
    // the permissive codec would have run it: the refusal above is what protects
    codec.decode(bytes);
    assertTrue(Gadget.triggered);
    Gadget.triggered = false;
  }

  @Test
  public void a_gadget_nested_in_an_allowed_container_is_refused() {
    Gadget.triggered = false;
    byte[] bytes = codec.encode(new ArrayList<Object>(Arrays.asList("harmless", new Gadget("nested"))));
    try {
      strict.decode(bytes);
      fail("nested Gadget deserialized");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains(Gadget.class.getName()));
    }
    assertFalse(Gadget.triggered);
    byte[] array = codec.encode(new Gadget[]{new Gadget("in an array")});
    try {
      strict.decode(array);
      fail("Gadget[] deserialized");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains(Gadget.class.getName()));
    }
    assertFalse(Gadget.triggered);
  }

  @Test
  public void encoding_refuses_what_no_node_could_decode() {
    try {
      strict.encode(new Gadget("x"));
      fail("encoded a class outside the allow-list");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains(Gadget.class.getName()));
    }
    try {
      strict.encode(new ArrayList<Object>(Collections.singletonList(new SerializablePojo("nested"))));
      fail("encoded a nested class outside the allow-list");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains(SerializablePojo.class.getName()));
    }
  }

  @Test
  public void a_cluster_serializable_tag_cannot_name_an_arbitrary_class() {
    byte[] name = "java.lang.StringBuilder".getBytes(StandardCharsets.UTF_8);
    byte[] bytes = new byte[3 + name.length];
    bytes[0] = BopValueCodec.TAG_CLUSTER_SERIALIZABLE;
    bytes[1] = (byte) name.length;
    System.arraycopy(name, 0, bytes, 3, name.length);
    try {
      codec.decode(bytes);
      fail("created a non-ClusterSerializable class");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("not a concrete ClusterSerializable"));
    }
  }

  @Test
  public void a_cluster_serializable_off_the_allow_list_is_neither_written_nor_created() {
    Pojo pojo = new Pojo("off the list");
    IllegalArgumentException write = assertThrows(IllegalArgumentException.class, () -> strict.encode(pojo));
    assertTrue(write.getMessage(), write.getMessage().contains("not on the allow-list"));
    byte[] bytes = codec.encode(pojo);
    IllegalArgumentException read = assertThrows(IllegalArgumentException.class, () -> strict.decode(bytes));
    assertTrue(read.getMessage(), read.getMessage().contains("not on the allow-list"));
    assertEquals(pojo, codec.decode(bytes));
  }

  @Test
  public void a_serial_dos_value_of_nested_hash_sets_is_refused_quickly() {
    Set<Object> root = new HashSet<>();
    Set<Object> s1 = root;
    Set<Object> s2 = new HashSet<>();
    for (int i = 0; i < 100; i++) {
      Set<Object> t1 = new HashSet<>();
      Set<Object> t2 = new HashSet<>();
      t1.add("foo");
      s1.add(t1);
      s1.add(t2);
      s2.add(t1);
      s2.add(t2);
      s1 = t1;
      s2 = t2;
    }
    byte[] bytes = codec.encode(root);
    long started = System.nanoTime();
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> codec.decode(bytes));
    long millis = (System.nanoTime() - started) / 1_000_000;
    assertTrue(refused.getMessage(), refused.getMessage().contains("nested deeper than " + BopValueCodec.MAX_DEPTH));
    assertTrue("took " + millis + " ms", millis < 2000);

    // An ordinary nested value well inside the depth limit still reads.
    Map<String, Object> nested = new HashMap<>();
    nested.put("list", new ArrayList<>(Arrays.asList(Collections.singletonMap("k", 1), "x")));
    assertEquals(nested, codec.decode(codec.encode(nested)));
  }

  @Test
  public void a_lying_array_length_fails_without_allocating() {
    byte[] bytes = codec.encode(new short[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    // the stream ends with the array's 4-byte length and its 10 two-byte elements
    int at = bytes.length - 24;
    assertEquals(10, bytes[at + 3]);
    bytes[at] = 0x7f;
    bytes[at + 1] = (byte) 0xff;
    bytes[at + 2] = (byte) 0xff;
    bytes[at + 3] = (byte) 0xf0;
    try {
      codec.decode(bytes);
      fail("accepted an array longer than its stream");
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("an array claims"));
    }
  }

  @Test
  public void unsupported_and_malformed_values_are_refused() {
    try {
      codec.encode(null);
      fail();
    } catch (NullPointerException expected) {
      // AsyncMap keys and values are never null
    }
    try {
      codec.encode(new Object());
      fail();
    } catch (IllegalArgumentException e) {
      assertTrue(e.getMessage(), e.getMessage().contains("java.lang.Object"));
    }
    for (byte[] bad : Arrays.asList(new byte[0], new byte[]{(byte) 0x7f}, new byte[]{BopValueCodec.TAG_INTEGER, 1},
      new byte[]{BopValueCodec.TAG_BOOLEAN, 2}, new byte[]{BopValueCodec.TAG_CLUSTER_SERIALIZABLE, 9, 0, 'x'},
      new byte[]{BopValueCodec.TAG_SERIALIZABLE, 1, 2, 3})) {
      try {
        codec.decode(bad);
        fail("decoded " + Arrays.toString(bad));
      } catch (IllegalArgumentException expected) {
        assertTrue(expected.getMessage() != null);
      }
    }
  }

  @Test
  public void allow_list_entries_match_classes_packages_and_trees() {
    BopValueCodec c = new BopValueCodec(null, Arrays.asList("com.acme.Point", "org.one.*", "org.tree.**", "  "));
    assertTrue(c.isAllowed("com.acme.Point"));
    assertFalse(c.isAllowed("com.acme.Point$Inner"));
    assertFalse(c.isAllowed("com.acme.PointX"));
    assertTrue(c.isAllowed("org.one.A"));
    assertTrue(c.isAllowed("org.one.A$B"));
    assertFalse(c.isAllowed("org.one.sub.A"));
    assertFalse(c.isAllowed("org.oneX.A"));
    assertTrue(c.isAllowed("org.tree.A"));
    assertTrue(c.isAllowed("org.tree.deep.er.A"));
    assertFalse(c.isAllowed("org.treeX.A"));
    assertTrue(c.isAllowed("java.lang.String"));
    assertTrue(c.isAllowed("java.util.HashMap"));
    assertFalse(c.isAllowed("java.util.concurrent.ConcurrentHashMap"));
    assertFalse(c.isAllowed("java.lang.reflect.Proxy"));
    assertFalse(c.isAllowed("javax.management.BadAttributeValueExpException"));
    assertFalse(c.isAllowed("org.apache.commons.collections.functors.InvokerTransformer"));
    assertTrue(c.isAllowed("[I"));
    assertTrue(c.isAllowed("[[Ljava.lang.String;"));
    assertTrue(c.isAllowed("[Lorg.tree.x.Y;"));
    assertFalse(c.isAllowed("[Lcom.evil.Gadget;"));
    assertEquals(Arrays.asList("java.lang.*", "java.util.*", "java.time.*", "java.math.*",
      "io.vertx.core.json.*", "com.acme.Point", "org.one.*", "org.tree.**"), c.allowed());
    for (String bad : Arrays.asList("*", ".*", "com.*.x", "com..x", "com.x.", "com/x/Y", "a b")) {
      try {
        new BopValueCodec(null, Collections.singletonList(bad));
        fail("accepted allow-list entry '" + bad + "'");
      } catch (IllegalArgumentException e) {
        assertTrue(e.getMessage(), e.getMessage().contains(bad));
      }
    }
  }

  // ---- helpers and test types ------------------------------------------------------------------------

  private void assertRoundTrip(Object value) {
    byte[] bytes = codec.encode(value);
    Object decoded = codec.decode(bytes);
    assertEquals(value.getClass().getName(), value, decoded);
    if (!(value instanceof Buffer)) {
      assertEquals(value.getClass(), decoded.getClass());
    }
    assertArrayEquals("re-encoding " + value, bytes, codec.encode(decoded));
  }

  /** A ClusterSerializable with a field Java serialization could not write, like the TCK's. */
  public static final class Pojo implements ClusterSerializable {
    private String text;
    @SuppressWarnings("unused")
    private final Object notSerializable = new Object();

    public Pojo() {
    }

    Pojo(String text) {
      this.text = text;
    }

    @Override
    public void writeToBuffer(Buffer buffer) {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      buffer.appendInt(bytes.length).appendBytes(bytes);
    }

    @Override
    public int readFromBuffer(int pos, Buffer buffer) {
      int length = buffer.getInt(pos);
      text = buffer.getString(pos + 4, pos + 4 + length, "UTF-8");
      return pos + 4 + length;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Pojo && Objects.equals(text, ((Pojo) o).text);
    }

    @Override
    public int hashCode() {
      return Objects.hashCode(text);
    }
  }

  /** A user Serializable, like the TCK's {@code SomeSerializableObject}. */
  public static final class SerializablePojo implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String text;

    SerializablePojo(String text) {
      this.text = text;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof SerializablePojo && Objects.equals(text, ((SerializablePojo) o).text);
    }

    @Override
    public int hashCode() {
      return Objects.hashCode(text);
    }
  }

  /** Stands for a deserialization gadget: its readObject has a side effect. */
  public static final class Gadget implements Serializable {
    private static final long serialVersionUID = 1L;
    static volatile boolean triggered;
    private final String command;

    Gadget(String command) {
      this.command = command;
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      triggered = command != null;
    }
  }
}
