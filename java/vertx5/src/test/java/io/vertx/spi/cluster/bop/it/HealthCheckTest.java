package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.CheckResult;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.spi.cluster.bop.BopClusterHealthCheck;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import org.junit.After;
import org.junit.Test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/**
 * The health procedure a readiness probe calls, registered with vertx-health-check: up with its
 * details on every member of a healthy cluster, down on a node that has lost its quorum, down once
 * the manager has left.
 */
public class HealthCheckTest {

  private final Clusters clusters = new Clusters();

  @After
  public void tearDown() {
    clusters.closeAll();
  }

  @Test
  public void every_member_of_a_healthy_cluster_is_up_with_its_raft_details() throws Exception {
    String name = Clusters.uniqueName("health");
    Vertx[] nodes = { clusters.start(Clusters.options(name)), clusters.start(Clusters.options(name)), clusters.start(Clusters.options(name)) };
    for (Vertx vertx : nodes) {
      BopClusterManager manager = Clusters.manager(vertx);
      JsonObject data = awaitStatus(vertx, true).getData();
      assertEquals(data.encode(), manager.getNodeId(), data.getString("nodeId"));
      assertEquals(data.encode(), 3, data.getJsonArray("members").size());
      assertTrue(data.encode(), data.getLong("raftId") > 0);
      assertTrue(data.encode(), data.getLong("leaderRaftId") > 0);
      assertTrue(data.encode(), data.getLong("term") >= 1);
      assertTrue(data.encode(), data.getLong("commitIndex") >= data.getLong("appliedIndex"));
      assertEquals(data.encode(), 0L, (long) data.getLong("msWithoutLeader"));
      assertFalse(data.encode(), data.containsKey("reason"));
    }
  }

  @Test
  public void a_node_whose_cluster_lost_its_quorum_is_down_and_says_why() throws Exception {
    String name = Clusters.uniqueName("health-quorum");
    BopClusterOptions options = Clusters.options(name).setRequestTimeout(2000);
    Vertx survivor = clusters.start(options);
    Vertx second = clusters.start(options);
    Vertx third = clusters.start(options);
    awaitStatus(survivor, true);
    assertEquals(3, Clusters.manager(survivor).node().status().voters());
    // Two of three voters stop without leaving, as a crash or a network split would leave them.
    Clusters.manager(second).node().close();
    Clusters.manager(third).node().close();
    JsonObject data = awaitStatus(survivor, false).getData();
    assertNotNull(data.encode(), data.getString("reason"));
  }

  @Test
  public void a_manager_that_left_is_down() throws Exception {
    String name = Clusters.uniqueName("health-left");
    Vertx vertx = Clusters.await(Vertx.builder().withClusterManager(new BopClusterManager(Clusters.options(name))).buildClustered());
    BopClusterManager manager = Clusters.manager(vertx);
    Vertx observer = clusters.track(Vertx.vertx());
    HealthChecks checks = HealthChecks.create(observer).register("cluster", BopClusterHealthCheck.createProcedure(manager, true));
    assertTrue(Clusters.await(checks.checkStatus("cluster")).getUp());
    Clusters.await(vertx.close());
    CheckResult result = Clusters.await(checks.checkStatus("cluster"));
    assertFalse(result.getUp());
    assertTrue(result.toJson().encode(), result.getData().getString("reason").contains("not a member"));
  }

  /** Checks {@code vertx}'s cluster health until it is {@code up} (or down), at most 30 s; the last result. */
  private static CheckResult awaitStatus(Vertx vertx, boolean up) throws Exception {
    HealthChecks checks = HealthChecks.create(vertx)
      .register("cluster", 5000, BopClusterHealthCheck.createProcedure(Clusters.manager(vertx), true));
    long deadline = System.nanoTime() + Clusters.TIMEOUT_SECONDS * 1_000_000_000L;
    CheckResult last = null;
    while (System.nanoTime() < deadline) {
      last = Clusters.await(checks.checkStatus("cluster"));
      if (last.getUp() == up) {
        return last;
      }
      Thread.sleep(200);
    }
    fail("the cluster check never became " + (up ? "up" : "down") + ": " + (last == null ? null : last.toJson().encode()));
    return null;
  }
}
