package io.vertx.spi.cluster.bop.tests.eventbus;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.core.eventbus.ClusteredEventBusTest;

/** The Vert.x 4.5 clustered event-bus TCK against {@code BopClusterManager}. */
public class BopClusteredEventBusTest extends ClusteredEventBusTest {

  @Override
  public void setUp() throws Exception {
    BopTestClusters.newCluster();
    super.setUp();
  }

  @Override
  protected ClusterManager getClusterManager() {
    return new BopClusterManager(BopTestClusters.options());
  }
}
