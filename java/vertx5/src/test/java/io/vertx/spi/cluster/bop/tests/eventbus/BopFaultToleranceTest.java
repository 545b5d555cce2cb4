package io.vertx.spi.cluster.bop.tests.eventbus;

import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.tests.BopTestClusters;
import io.vertx.tests.eventbus.FaultToleranceTest;

import java.util.Arrays;
import java.util.List;

/**
 * The Vert.x fault-tolerance TCK: real child JVMs killed with SIGKILL. A majority-quorum
 * cluster survives the two deaths only when the first is detected (and its voter replaced)
 * before the second, so after each kill this waits until the survivors have removed the dead
 * node and are back to full voter strength (vertx-hazelcast waits after the kills in the same
 * way). The child JVMs use the same short failure timeout.
 */
public class BopFaultToleranceTest extends FaultToleranceTest {

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
  protected List<String> getExternalNodeSystemProperties() {
    return Arrays.asList(
      "-Dvertx.bop.clusterName=" + BopTestClusters.clusterName(),
      "-Dvertx.bop.timeout=2000",
      "-Djava.net.preferIPv4Stack=true");
  }

  @Override
  protected void afterNodeKilled(int killedNode, Process process) throws Exception {
    // Wait for the survivors to declare the node dead and to replace it among the voters before
    // the next kill: the member list shrinks when the death is applied, the raft configuration
    // is repaired by the conf changes that follow, and a second death in between can take two
    // of the three voters.
    long deadline = System.currentTimeMillis() + 30_000;
    BopClusterManager manager = (BopClusterManager) vertx.clusterManager();
    // This node and the external nodes not killed yet (they are killed in order).
    int expected = NODE_COUNT - killedNode;
    int expectedVoters = expected < 3 ? 1 : Math.min(3, expected % 2 == 0 ? expected - 1 : expected);
    while (System.currentTimeMillis() < deadline
      && (manager.getNodes().size() > expected || manager.node().voterCount() != expectedVoters)) {
      Thread.sleep(50);
    }
    if (System.currentTimeMillis() >= deadline) {
      // What the survivors' state was when they did not recover, for the test's output.
      System.err.println("After the kill of external node " + killedNode + ": expected " + expected
        + " members and " + expectedVoters + " voters, this node has " + manager.node().status());
    }
    super.afterNodeKilled(killedNode, process);
  }
}
