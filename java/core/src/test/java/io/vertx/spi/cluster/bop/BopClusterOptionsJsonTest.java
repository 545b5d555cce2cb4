package io.vertx.spi.cluster.bop;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Arrays;

import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * {@link BopClusterOptions} from and to JSON: every setting by its name, lists as arrays or one
 * comma-separated string, unknown names and wrong types refused by name, and {@code toJson} giving
 * back what was set (never the secret).
 */
public class BopClusterOptionsJsonTest {

  @Test
  public void every_setting_is_read_by_its_name() {
    JsonObject json = new JsonObject()
      .put("clusterName", "orders").put("host", "10.0.0.5").put("port", 5701)
      .put("publicHost", "203.0.113.5").put("publicPort", 15701)
      .put("seeds", new JsonArray().add("10.0.0.6:5701").add("10.0.0.7:5701"))
      .put("dnsName", "orders.svc").put("dnsPort", 5353)
      .put("failureTimeout", 5000).put("pingInterval", 1000).put("voters", 5)
      .put("requestTimeout", 3000).put("joinTimeout", 9000).put("tick", 20).put("maxFrameSize", 65536)
      .put("serializableAllowList", "com.acme.*, com.other.Type").put("secretFile", "/run/secret")
      .put("insecure", false).put("failureDomain", "zone-b");
    BopClusterOptions options = new BopClusterOptions(json);
    assertEquals("orders", options.getClusterName());
    assertEquals("10.0.0.5", options.getHost());
    assertEquals(5701, options.getPort());
    assertEquals("203.0.113.5", options.getPublicHost());
    assertEquals(15701, options.getPublicPort());
    assertEquals(Arrays.asList("10.0.0.6:5701", "10.0.0.7:5701"), options.getSeeds());
    assertEquals("orders.svc", options.getDnsName());
    assertEquals(5353, options.getDnsPort());
    assertEquals(5000, options.getFailureTimeout());
    assertEquals(1000, options.getPingInterval());
    assertEquals(5, options.getVoters());
    assertEquals(3000, options.getRequestTimeout());
    assertEquals(9000, options.getJoinTimeout());
    assertEquals(20, options.getTick());
    assertEquals(65536, options.getMaxFrameSize());
    assertEquals(Arrays.asList("com.acme.*", "com.other.Type"), options.getSerializableAllowList());
    assertFalse(options.isInsecure());
    assertEquals("zone-b", options.getFailureDomain());
    JsonObject back = options.toJson();
    assertEquals(new JsonArray().add("com.acme.*").add("com.other.Type"), back.getJsonArray("serializableAllowList"));
    back.put("serializableAllowList", json.getValue("serializableAllowList"));
    assertEquals(json, back);
  }

  @Test
  public void to_json_holds_only_what_was_set_and_never_the_secret() {
    BopClusterOptions options = new BopClusterOptions().setClusterName("c").setSecret("0123456789abcdef0123");
    JsonObject json = options.toJson();
    assertEquals(new JsonObject().put("clusterName", "c"), json);
    assertFalse(json.encode().contains("0123456789abcdef"));
    assertTrue(new BopClusterOptions(new JsonObject()).toJson().isEmpty());
  }

  @Test
  public void unknown_names_and_wrong_types_are_refused_by_name() {
    assertMessage("Unknown cluster option clustername", new JsonObject().put("clustername", "typo"));
    assertMessage("port must be a whole number", new JsonObject().put("port", "5701"));
    assertMessage("port must be between 0 and 65535", new JsonObject().put("port", 70000));
    assertMessage("failureTimeout must be a whole number", new JsonObject().put("failureTimeout", 1.5));
    assertMessage("seeds must be an array of strings", new JsonObject().put("seeds", 3));
    assertMessage("seeds must be a string", new JsonObject().put("seeds", new JsonArray().add(1)));
    assertMessage("insecure must be true or false", new JsonObject().put("insecure", "yes"));
  }

  private static void assertMessage(String expected, JsonObject json) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BopClusterOptions(json));
    assertTrue(e.getMessage(), e.getMessage().contains(expected));
  }
}
