package io.vertx.spi.cluster.bop.tests;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;

import java.util.Arrays;
import java.util.UUID;

/**
 * Cluster managers for the TCK subclasses: every test gets a cluster name of its own, so the
 * nodes of one test never find the nodes of another through local discovery.
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
      .setSerializableAllowList(Arrays.asList("io.vertx.tests.**", "io.vertx.test.**"));
  }

  public static ClusterManager clusterManager() {
    return new BopClusterManager(options());
  }
}
