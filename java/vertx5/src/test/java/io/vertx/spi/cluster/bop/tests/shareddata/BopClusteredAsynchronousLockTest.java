package io.vertx.spi.cluster.bop.tests.shareddata;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.tests.shareddata.ClusteredAsynchronousLockTest;
import org.junit.Test;

/**
 * The Vert.x lock TCK against {@code BopClusterManager}, with the two tests the base class
 * ignores re-enabled: a lock held by a node that closes or is killed goes to the next waiter.
 */
public class BopClusteredAsynchronousLockTest extends ClusteredAsynchronousLockTest {

  @Override
  public void setUp() throws Exception {
    BopTestClusters.newCluster();
    super.setUp();
  }

  @Override
  protected ClusterManager getClusterManager() {
    return new BopClusterManager(BopTestClusters.options());
  }

  @Override
  @Test
  public void testLockReleasedForClosedNode() throws Exception {
    super.testLockReleasedForClosedNode();
  }

  @Override
  @Test
  public void testLockReleasedForKilledNode() throws Exception {
    super.testLockReleasedForKilledNode();
  }
}
