package io.vertx.spi.cluster.bop.tests.ha;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.core.ComplexHATest;

/** The Vert.x 4.5 complex HA TCK against {@code BopClusterManager}. */
public class BopComplexHATest extends ComplexHATest {

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
