package io.vertx.spi.cluster.bop.impl.jni;

import io.vertx.spi.cluster.bop.BopClusterOptions;
import org.junit.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * Pins the values that cross JNI besides frames to the Rust encoder ({@code tests/golden_jni.rs}
 * writes {@code tests/vectors/jni/}): the settings {@link BopNodeSettings} encodes from the same
 * options must be the files' exact bytes, and {@link BopNodeStatus} must read the status file to
 * the values the Rust test wrote.
 */
public class JniValuesGoldenTest {

  private static byte[] vector(String name) throws IOException {
    Path dir = Paths.get(System.getProperty("bop.vectors.dir", "../tests/vectors")).resolve("jni");
    return Files.readAllBytes(dir.resolve(name));
  }

  @Test
  public void settings_with_seeds_and_a_secret_encode_to_the_rust_bytes() throws IOException {
    BopClusterOptions options = new BopClusterOptions()
      .setClusterName("orders-Zürich").setHost("10.0.0.7").setPort(5701).setPublicHost("203.0.113.7").setPublicPort(15701)
      .setSeeds(Arrays.asList("10.0.0.7:5701", "10.0.0.8:5701"))
      .setFailureTimeout(15_000).setPingInterval(5_000).setTick(30).setVoters(5)
      .setRequestTimeout(12_000).setJoinTimeout(45_000).setMaxFrameSize(8 * 1024 * 1024)
      .setSecret("0123456789abcdef-secret").setInsecure(false).setFailureDomain("zone-eu-1b");
    assertArrayEquals(vector("settings_seeds_secret.bin"),
      BopNodeSettings.encode("0b7e5b8e-1f0a-4c3b-9d2e-6a5f4e3d2c1b", options));
  }

  @Test
  public void insecure_dns_settings_encode_to_the_rust_bytes() throws IOException {
    BopClusterOptions options = defaults("k8s").setHost("0.0.0.0").setPort(7000)
      .setDns("members.default.svc.cluster.local", 7000).setInsecure(true);
    assertArrayEquals(vector("settings_dns_insecure.bin"), BopNodeSettings.encode("n", options));
  }

  @Test
  public void default_settings_encode_to_the_rust_bytes() throws IOException {
    assertArrayEquals(vector("settings_local_defaults.bin"),
      BopNodeSettings.encode("local", defaults("vertx-bop").setInsecure(false)));
  }

  @Test
  public void a_secret_file_gives_the_same_bytes_as_the_secret() throws IOException {
    Path file = Files.createTempFile("bop-secret", ".txt");
    try {
      Files.write(file, "  0123456789abcdef-secret\n".getBytes(StandardCharsets.UTF_8));
      BopClusterOptions options = new BopClusterOptions().setSecretFile(file.toString());
      assertArrayEquals("0123456789abcdef-secret".getBytes(StandardCharsets.UTF_8), options.getSecret());
      BopClusterOptions both = new BopClusterOptions().setSecretFile(file.toString()).setSecret("x");
      IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, both::getSecret);
      assertTrue(twice.getMessage(), twice.getMessage().contains("secretFile"));
    } finally {
      Files.delete(file);
    }
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
      () -> new BopClusterOptions().setSecretFile(file.toString()).getSecret());
    assertTrue(missing.getMessage(), missing.getMessage().contains("Cannot read the cluster secret file"));
  }

  @Test
  public void the_status_reads_to_the_values_rust_wrote() throws IOException {
    BopNodeStatus status = BopNodeStatus.decode(vector("status.bin"));
    assertEquals("127.0.0.1:41234", status.address());
    assertTrue(status.isLeader());
    assertEquals(Arrays.asList("a", "b", "c"), status.members());
    assertEquals(3, status.voters());
    assertEquals(22, status.counters().size());
    assertEquals(7L, status.counter("term"));
    assertEquals(1199L, status.counter("applied_index"));
    assertEquals(65536L, status.counter("log_bytes"));
    assertEquals(2L, status.counter("outbound_connections"));
    assertEquals(1L, status.counter("frames_sent"));
    assertEquals(8L, status.counter("handshakes_refused"));
    assertEquals(11L, status.counter("connections_over_limit"));
    assertEquals(-1L, status.counter("records_rejected"));
    assertEquals(12L, status.counter("messages_refused"));
    assertEquals(0L, status.counter("no such counter"));
    byte[] truncated = Arrays.copyOf(vector("status.bin"), 40);
    assertThrows(IllegalArgumentException.class, () -> BopNodeStatus.decode(truncated));
  }

  /** Every setting at the Rust default, set explicitly so no property of the test JVM leaks in. */
  private static BopClusterOptions defaults(String cluster) {
    return new BopClusterOptions().setClusterName(cluster).setHost("127.0.0.1").setPort(0)
      .setFailureTimeout(20_000).setPingInterval(20_000).setTick(25).setVoters(3)
      .setRequestTimeout(10_000).setJoinTimeout(30_000).setMaxFrameSize(16L * 1024 * 1024);
  }
}
