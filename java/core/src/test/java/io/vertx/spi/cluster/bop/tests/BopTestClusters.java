package io.vertx.spi.cluster.bop.tests;

import io.vertx.spi.cluster.bop.BopClusterOptions;

import java.util.Arrays;
import java.util.UUID;

/**
 * Options for the TCK subclasses of both Vert.x lines: every test gets a cluster name of its own,
 * so the nodes of one test never find the nodes of another through local discovery.
 */
public final class BopTestClusters {

  private static volatile String clusterName = fresh();

  private BopTestClusters() {
  }

  private static String fresh() {
    return "tck-" + UUID.randomUUID();
  }

  /** Starts a new cluster name; call at the start of each test's setUp. */
  public static void newCluster() {
    clusterName = fresh();
  }

  public static String clusterName() {
    return clusterName;
  }

  /** Options for this test's cluster: a failure timeout short enough for the TCK's budgets. */
  public static BopClusterOptions options() {
    return new BopClusterOptions()
      .setClusterName(clusterName)
      .setFailureTimeout(2000)
      // the test classes the TCKs store: Vert.x 5 keeps them under io.vertx.tests, Vert.x 4 under io.vertx.core
      .setSerializableAllowList(Arrays.asList("io.vertx.tests.**", "io.vertx.core.**", "io.vertx.test.**"));
  }
}
