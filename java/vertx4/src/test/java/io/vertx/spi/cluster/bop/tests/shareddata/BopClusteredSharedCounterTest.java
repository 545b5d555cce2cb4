package io.vertx.spi.cluster.bop.tests.shareddata;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.core.shareddata.ClusteredSharedCounterTest;

/** The Vert.x 4.5 counter TCK against {@code BopClusterManager}. */
public class BopClusteredSharedCounterTest extends ClusteredSharedCounterTest {

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
