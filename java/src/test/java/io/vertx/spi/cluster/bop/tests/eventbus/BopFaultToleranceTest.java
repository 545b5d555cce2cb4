package io.vertx.spi.cluster.bop.tests.eventbus;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.tests.eventbus.FaultToleranceTest;

import java.util.Arrays;
import java.util.List;

/**
 * The Vert.x fault-tolerance TCK: real child JVMs killed with SIGKILL. A majority-quorum
 * cluster survives the two deaths only when the first is detected before the second, so after
 * each kill this waits until the survivors have removed the dead node (vertx-hazelcast waits
 * after the kills in the same way). The child JVMs use the same short failure timeout.
 */
public class BopFaultToleranceTest extends FaultToleranceTest {

  @Override
  public void setUp() throws Exception {
    BopTestClusters.newCluster();
    super.setUp();
  }

  @Override
  protected ClusterManager getClusterManager() {
    return BopTestClusters.clusterManager();
  }

  @Override
  protected List<String> getExternalNodeSystemProperties() {
    return Arrays.asList(
      "-Dvertx.bop.clusterName=" + BopTestClusters.clusterName(),
      "-Dvertx.bop.timeout=2000",
      "-Djava.net.preferIPv4Stack=true");
  }

  @Override
  protected void afterNodeKilled(int killedNode, Process process) throws Exception {
    // Wait for the survivors to declare the node dead before the next kill.
    long deadline = System.currentTimeMillis() + 30_000;
    int expected = vertx.clusterManager().getNodes().size() - 1;
    while (System.currentTimeMillis() < deadline && vertx.clusterManager().getNodes().size() > expected) {
      Thread.sleep(50);
    }
    super.afterNodeKilled(killedNode, process);
  }
}
