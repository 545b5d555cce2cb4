package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.spi.cluster.bop.BopClusterManager;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * Several nodes started at once in a JVM that has just loaded the native library: the first
 * calls into the library then come from several threads together. A build of the library whose
 * allocator was not safe there (mimalloc 3) crashed the JVM in about one such start out of six,
 * so the test starts a fresh JVM for each of {@value #ROUNDS} rounds. A crash shows as the child's
 * exit status and output (the JVM's fatal-error summary names the native frame).
 */
public class FreshJvmConcurrentStartTest {

  static final int ROUNDS = 10;
  static final int NODES = 4;
  /** Exit status of {@link Child} when every node started and saw the others. */
  static final int FORMED = 42;

  @Test
  public void four_nodes_started_together_in_fresh_jvms_form_a_cluster_every_time() throws Exception {
    for (int round = 1; round <= ROUNDS; round++) {
      Process process = Clusters.startJvm(Child.class, Clusters.uniqueName("fresh-jvm-" + round));
      byte[] bytes;
      try (InputStream in = process.getInputStream()) {
        bytes = in.readAllBytes();
      }
      assertTrue("round " + round + ": the child JVM did not exit",
        process.waitFor(Clusters.TIMEOUT_SECONDS, TimeUnit.SECONDS));
      String output = new String(bytes, StandardCharsets.UTF_8);
      assertEquals("round " + round + ": exit status of the child JVM, output:\n" + output,
        FORMED, process.exitValue());
    }
  }

  /** The child JVM's program: starts {@value #NODES} nodes at once, waits until each lists them all. */
  public static final class Child {

    private Child() {
    }

    public static void main(String[] args) throws Exception {
      List<Future<Vertx>> starting = new ArrayList<>();
      for (int i = 0; i < NODES; i++) {
        starting.add(Vertx.builder()
          .withClusterManager(new BopClusterManager(Clusters.options(args[0])))
          .buildClustered());
      }
      List<Vertx> nodes = new ArrayList<>();
      for (Future<Vertx> f : starting) {
        nodes.add(Clusters.await(f));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Clusters.TIMEOUT_SECONDS);
      for (Vertx node : nodes) {
        while (Clusters.manager(node).getNodes().size() < NODES) {
          if (System.nanoTime() > deadline) {
            System.out.println("members: " + Clusters.manager(node).getNodes());
            System.exit(1);
          }
          Thread.sleep(5);
        }
      }
      for (Vertx node : nodes) {
        Clusters.await(node.close());
      }
      System.exit(FORMED);
    }
  }
}
