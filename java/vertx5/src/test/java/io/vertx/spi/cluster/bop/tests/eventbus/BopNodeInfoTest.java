package io.vertx.spi.cluster.bop.tests.eventbus;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.tests.eventbus.NodeInfoTest;

/** The Vert.x node-info TCK against {@code BopClusterManager}. */
public class BopNodeInfoTest extends NodeInfoTest {

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
