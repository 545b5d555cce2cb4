package io.vertx.spi.cluster.bop;

import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.ext.healthchecks.Status;
import io.vertx.spi.cluster.bop.impl.BopGateway;
import io.vertx.spi.cluster.bop.impl.BopManaged;
import io.vertx.spi.cluster.bop.impl.BopManagerCore;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeStatus;

/**
 * A vertx-health-check procedure for a {@code BopClusterManager}, for readiness probes:
 * <pre>
 * HealthChecks.create(vertx).register("cluster", BopClusterHealthCheck.createProcedure(manager, true));
 * </pre>
 * The node is up only when it is a member of the cluster, follows (or is) a leader it reaches, and
 * completes a linearizable read: so a node cut off from the majority, or one whose cluster lost its
 * quorum, is down (it cannot serve locks, counters or map writes then). The detailed mode adds
 * the member list, this node's raft id, the leader's, the term, the commit and applied indexes,
 * how long the node has been without a leader, and why it is down. Needs
 * {@code io.vertx:vertx-health-check} on the class path.
 */
public final class BopClusterHealthCheck {

  /** The address whose registrations the check reads: a read that goes through the leader. */
  static final String PROBE_ADDRESS = "__vertx.bop.health";

  private BopClusterHealthCheck() {
  }

  /** The procedure for {@code manager} (a {@code BopClusterManager} of either Vert.x line). */
  public static Handler<Promise<Status>> createProcedure(ClusterManager manager, boolean detailed) {
    if (!(manager instanceof BopManaged)) {
      throw new IllegalArgumentException("not a BopClusterManager: " + manager);
    }
    BopManagerCore core = ((BopManaged) manager).core();
    return promise -> check(core, detailed, promise);
  }

  private static void check(BopManagerCore core, boolean detailed, Promise<Status> promise) {
    JsonObject data = new JsonObject();
    if (!core.isActive()) {
      promise.complete(down(detailed, data, "not a member of the cluster (not joined, left, or stopped)"));
      return;
    }
    BopNodeStatus status;
    try {
      status = core.node().status();
    } catch (RuntimeException e) {
      promise.complete(down(detailed, data, "the node cannot report its status: " + e.getMessage()));
      return;
    }
    if (detailed) {
      data.put("nodeId", core.nodeId())
        .put("members", new JsonArray(status.members()))
        .put("raftId", status.counter("raft_id"))
        .put("leaderRaftId", status.counter("leader_raft_id"))
        .put("leader", status.isLeader())
        .put("term", status.counter("term"))
        .put("commitIndex", status.counter("commit_index"))
        .put("appliedIndex", status.counter("applied_index"))
        .put("msWithoutLeader", status.counter("ms_without_leader"));
    }
    if (!status.members().contains(core.nodeId())) {
      promise.complete(down(detailed, data, "this node is not in the member list it has applied"));
      return;
    }
    if (status.counter("leader_raft_id") == 0 || status.counter("ms_without_leader") > 0) {
      promise.complete(down(detailed, data, "no leader reached for " + status.counter("ms_without_leader") + " ms"));
      return;
    }
    core.registrations(PROBE_ADDRESS).whenComplete((list, failure) -> {
      if (failure != null) {
        promise.tryComplete(down(detailed, data, "a linearizable read failed: " + BopGateway.unwrap(failure).getMessage()));
      } else {
        promise.tryComplete(detailed ? Status.OK(data) : Status.OK());
      }
    });
  }

  private static Status down(boolean detailed, JsonObject data, String why) {
    return detailed ? Status.KO(data.put("reason", why)) : Status.KO();
  }
}
