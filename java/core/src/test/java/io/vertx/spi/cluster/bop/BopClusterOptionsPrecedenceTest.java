package io.vertx.spi.cluster.bop;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.function.ThrowingRunnable;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * Where {@link BopClusterOptions} takes each setting from: a value set on the object wins over the
 * system property {@code vertx.bop.*}, which wins over the environment variable
 * {@code VERTX_CLUSTER_*}, which wins over the default; a malformed or out-of-range property or
 * variable is an {@link IllegalArgumentException} naming it, and one that is shadowed by a higher
 * source is never read. Replaces the class's property and environment lookups with maps.
 */
public class BopClusterOptionsPrecedenceTest {

  private final Map<String, String> properties = new HashMap<>();
  private final Map<String, String> environment = new HashMap<>();
  private Function<String, String> savedProperties;
  private Function<String, String> savedEnvironment;

  @Before
  public void swapSources() {
    savedProperties = BopClusterOptions.properties;
    savedEnvironment = BopClusterOptions.environment;
    BopClusterOptions.properties = properties::get;
    BopClusterOptions.environment = environment::get;
  }

  @After
  public void restoreSources() {
    BopClusterOptions.properties = savedProperties;
    BopClusterOptions.environment = savedEnvironment;
  }

  @Test
  public void defaults_when_nothing_is_set() {
    BopClusterOptions options = new BopClusterOptions();
    assertEquals("vertx-bop", options.getClusterName());
    assertEquals("127.0.0.1", options.getHost());
    assertEquals(0, options.getPort());
    assertEquals(Collections.emptyList(), options.getSeeds());
    assertNull(options.getDnsName());
    assertEquals(0, options.getDnsPort());
    assertEquals(20000L, options.getFailureTimeout());
    assertEquals(20000L, options.getPingInterval());
    assertEquals(3, options.getVoters());
    assertEquals(10000L, options.getRequestTimeout());
    assertEquals(30000L, options.getJoinTimeout());
    assertEquals(25L, options.getTick());
    assertEquals(16L * 1024 * 1024, options.getMaxFrameSize());
    assertEquals(Collections.emptyList(), options.getSerializableAllowList());
    assertNull(options.getFailureDomain());
  }

  @Test
  public void the_failure_domain_comes_from_the_object_then_the_property_then_the_variable() {
    environment.put("VERTX_CLUSTER_FAILURE_DOMAIN", "zone-from-variable");
    assertEquals("zone-from-variable", new BopClusterOptions().getFailureDomain());
    properties.put("vertx.bop.failureDomain", " rack-7 ");
    assertEquals("rack-7", new BopClusterOptions().getFailureDomain());
    assertEquals("zone-a", new BopClusterOptions().setFailureDomain("zone-a").getFailureDomain());
    properties.put("vertx.bop.failureDomain", " ");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BopClusterOptions().getFailureDomain());
    assertTrue(e.getMessage(), e.getMessage().contains("vertx.bop.failureDomain"));
    e = assertThrows(IllegalArgumentException.class, () -> new BopClusterOptions().setFailureDomain(" ").getFailureDomain());
    assertTrue(e.getMessage(), e.getMessage().contains("failureDomain"));
  }

  @Test
  public void environment_variables_win_over_defaults() {
    environment.put("VERTX_CLUSTER_HOST", "10.0.0.1");
    environment.put("VERTX_CLUSTER_PORT", "5701");
    environment.put("VERTX_CLUSTER_TIMEOUT", "3000");
    environment.put("VERTX_CLUSTER_PING_INTERVAL", "500");
    BopClusterOptions options = new BopClusterOptions();
    assertEquals("10.0.0.1", options.getHost());
    assertEquals(5701, options.getPort());
    assertEquals(3000L, options.getFailureTimeout());
    assertEquals(500L, options.getPingInterval());
  }

  @Test
  public void system_properties_win_over_environment_variables() {
    environment.put("VERTX_CLUSTER_HOST", "10.0.0.1");
    environment.put("VERTX_CLUSTER_PORT", "5701");
    environment.put("VERTX_CLUSTER_TIMEOUT", "3000");
    environment.put("VERTX_CLUSTER_PING_INTERVAL", "500");
    properties.put("vertx.bop.host", "10.0.0.2");
    properties.put("vertx.bop.port", "5702");
    properties.put("vertx.bop.timeout", "4000");
    properties.put("vertx.bop.pingInterval", "600");
    properties.put("vertx.bop.clusterName", "from-property");
    properties.put("vertx.bop.seeds", " 10.0.0.3:5701, ,10.0.0.4:5701 ");
    properties.put("vertx.bop.voters", "5");
    properties.put("vertx.bop.maxFrameSize", "4096");
    properties.put("vertx.bop.serializableAllowList", "com.acme.*,com.acme.Point");
    BopClusterOptions options = new BopClusterOptions();
    assertEquals("10.0.0.2", options.getHost());
    assertEquals(5702, options.getPort());
    assertEquals(4000L, options.getFailureTimeout());
    assertEquals(600L, options.getPingInterval());
    assertEquals("from-property", options.getClusterName());
    assertEquals(Arrays.asList("10.0.0.3:5701", "10.0.0.4:5701"), options.getSeeds());
    assertEquals(5, options.getVoters());
    assertEquals(4096L, options.getMaxFrameSize());
    assertEquals(Arrays.asList("com.acme.*", "com.acme.Point"), options.getSerializableAllowList());
  }

  @Test
  public void values_set_on_the_object_win_over_properties_and_environment() {
    environment.put("VERTX_CLUSTER_HOST", "10.0.0.1");
    environment.put("VERTX_CLUSTER_PORT", "5701");
    environment.put("VERTX_CLUSTER_TIMEOUT", "3000");
    properties.put("vertx.bop.host", "10.0.0.2");
    properties.put("vertx.bop.port", "5702");
    properties.put("vertx.bop.clusterName", "from-property");
    properties.put("vertx.bop.seeds", "10.0.0.3:5701");
    properties.put("vertx.bop.serializableAllowList", "com.acme.*");
    BopClusterOptions options = new BopClusterOptions()
      .setHost("10.0.0.9")
      .setPort(5709)
      .setFailureTimeout(9000)
      .setClusterName("from-object")
      .setSeeds(Collections.singletonList("10.0.0.9:5709"))
      .setSerializableAllowList(Collections.singletonList("org.example.**"));
    assertEquals("10.0.0.9", options.getHost());
    assertEquals(5709, options.getPort());
    assertEquals(9000L, options.getFailureTimeout());
    assertEquals("from-object", options.getClusterName());
    assertEquals(Collections.singletonList("10.0.0.9:5709"), options.getSeeds());
    assertEquals(Collections.singletonList("org.example.**"), options.getSerializableAllowList());
    // The copy keeps what was set, and still reads the rest from the sources.
    BopClusterOptions copy = new BopClusterOptions(options);
    assertEquals(options, copy);
    assertEquals(5709, copy.getPort());
    properties.put("vertx.bop.pingInterval", "700");
    assertEquals(700L, copy.getPingInterval());
  }

  @Test
  public void a_malformed_property_is_named() {
    properties.put("vertx.bop.port", "fifty");
    assertMessageNames(() -> new BopClusterOptions().getPort(), "system property vertx.bop.port", "fifty");
    properties.put("vertx.bop.port", "70000");
    assertMessageNames(() -> new BopClusterOptions().getPort(), "system property vertx.bop.port", "70000");
    properties.put("vertx.bop.voters", "0");
    assertMessageNames(() -> new BopClusterOptions().getVoters(), "system property vertx.bop.voters", "0");
    properties.put("vertx.bop.maxFrameSize", "12");
    assertMessageNames(() -> new BopClusterOptions().getMaxFrameSize(), "system property vertx.bop.maxFrameSize", "12");
    properties.put("vertx.bop.clusterName", "  ");
    assertMessageNames(() -> new BopClusterOptions().getClusterName(), "system property vertx.bop.clusterName");
  }

  @Test
  public void a_malformed_environment_variable_is_named() {
    environment.put("VERTX_CLUSTER_TIMEOUT", "soon");
    assertMessageNames(() -> new BopClusterOptions().getFailureTimeout(), "environment variable VERTX_CLUSTER_TIMEOUT", "soon");
    environment.put("VERTX_CLUSTER_PORT", "-1");
    assertMessageNames(() -> new BopClusterOptions().getPort(), "environment variable VERTX_CLUSTER_PORT", "-1");
    environment.put("VERTX_CLUSTER_HOST", "");
    assertMessageNames(() -> new BopClusterOptions().getHost(), "environment variable VERTX_CLUSTER_HOST");
  }

  @Test
  public void a_shadowed_malformed_source_is_never_read() {
    environment.put("VERTX_CLUSTER_PORT", "not-a-port");
    properties.put("vertx.bop.port", "5702");
    assertEquals(5702, new BopClusterOptions().getPort());
    properties.put("vertx.bop.timeout", "never");
    assertEquals(1234L, new BopClusterOptions().setFailureTimeout(1234).getFailureTimeout());
    // The property shadows a good variable, and it is the property the error names.
    environment.put("VERTX_CLUSTER_TIMEOUT", "3000");
    assertMessageNames(() -> new BopClusterOptions().getFailureTimeout(), "system property vertx.bop.timeout", "never");
  }

  @Test
  public void an_out_of_range_value_set_on_the_object_is_named() {
    assertMessageNames(() -> new BopClusterOptions().setPort(70000).getPort(), "port", "70000");
    assertMessageNames(() -> new BopClusterOptions().setVoters(0).getVoters(), "voters");
  }

  private static void assertMessageNames(ThrowingRunnable call, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    for (String part : parts) {
      assertTrue("\"" + e.getMessage() + "\" should name " + part, e.getMessage().contains(part));
    }
  }

  @Test
  public void the_secret_comes_from_the_object_then_the_properties_then_the_environment() throws Exception {
    assertNull(new BopClusterOptions().getSecret());
    assertEquals(false, new BopClusterOptions().isInsecure());
    environment.put("VERTX_CLUSTER_SECRET", " from-the-environment ");
    assertEquals("from-the-environment", utf8(new BopClusterOptions().getSecret()));
    java.nio.file.Path file = java.nio.file.Files.createTempFile("bop-secret", ".txt");
    try {
      java.nio.file.Files.write(file, "from-a-file\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      properties.put("vertx.bop.secretFile", file.toString());
      assertEquals("from-a-file", utf8(new BopClusterOptions().getSecret()));
      properties.put("vertx.bop.secret", "from-a-property");
      IllegalArgumentException both = assertThrows(IllegalArgumentException.class, () -> new BopClusterOptions().getSecret());
      assertTrue(both.getMessage(), both.getMessage().contains("vertx.bop.secret") && both.getMessage().contains("vertx.bop.secretFile"));
      properties.remove("vertx.bop.secretFile");
      assertEquals("from-a-property", utf8(new BopClusterOptions().getSecret()));
      assertEquals("from-the-object", utf8(new BopClusterOptions().setSecret("from-the-object").getSecret()));
      assertEquals("from-a-file", utf8(new BopClusterOptions().setSecretFile(file.toString()).getSecret()));
    } finally {
      java.nio.file.Files.delete(file);
    }
    properties.put("vertx.bop.secret", " ");
    assertThrows(IllegalArgumentException.class, () -> new BopClusterOptions().getSecret());
    assertTrue("the secret is never printed", !new BopClusterOptions().setSecret("hidden-secret-value").toString().contains("hidden"));
  }

  @Test
  public void insecure_is_a_boolean_property() {
    properties.put("vertx.bop.insecure", "TRUE");
    assertTrue(new BopClusterOptions().isInsecure());
    assertEquals(false, new BopClusterOptions().setInsecure(false).isInsecure());
    properties.put("vertx.bop.insecure", "yes");
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> new BopClusterOptions().isInsecure());
    assertTrue(bad.getMessage(), bad.getMessage().contains("vertx.bop.insecure"));
  }

  private static String utf8(byte[] bytes) {
    return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
  }
}
