package io.vertx.spi.cluster.bop.tests.shareddata;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.tests.shareddata.ClusteredAsyncMapTest;

/** The Vert.x async-map TCK, every TTL test included, against {@code BopClusterManager}. */
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
