package io.vertx.spi.cluster.bop.tests.shareddata;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.core.shareddata.ClusteredAsyncMapTest;

/** The Vert.x 4.5 async map TCK (TTL included) against {@code BopClusterManager}. */
public class BopClusteredAsyncMapTest extends ClusteredAsyncMapTest {

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
