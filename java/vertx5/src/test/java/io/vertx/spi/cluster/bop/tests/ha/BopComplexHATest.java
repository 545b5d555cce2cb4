package io.vertx.spi.cluster.bop.tests.ha;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.tests.ha.ComplexHATest;

/** The Vert.x complex HA TCK (8 nodes, repeated) against {@code BopClusterManager}. */
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
