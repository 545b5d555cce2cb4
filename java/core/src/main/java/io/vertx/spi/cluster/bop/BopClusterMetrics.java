package io.vertx.spi.cluster.bop;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.vertx.spi.cluster.bop.impl.BopManagerCore;
import io.vertx.spi.cluster.bop.impl.BopNode;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeStatus;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * A cluster manager's metrics in Micrometer, for the registry the application gives
 * ({@code manager.metrics().bindTo(registry)}); when Vert.x runs with its Micrometer metrics
 * (vertx-micrometer-metrics), the manager binds them to that registry by itself when it joins.
 * Needs {@code io.micrometer:micrometer-core} on the class path.
 *
 * <p>Every meter is named {@code vertx.bop.*} and tagged {@code node} (the Vert.x node id at
 * binding) and {@code cluster}:
 * <ul>
 *   <li>gauges: {@code members}, {@code voters}, {@code leader} (1 while this node leads),
 *   {@code raft.term}, {@code raft.commit.index}, {@code raft.applied.index},
 *   {@code raft.apply.lag} (committed but not yet applied entries), {@code raft.leaderless}
 *   (seconds without a leader, 0 with one), {@code raft.log.bytes}, {@code connections}
 *   (tag {@code direction}: inbound, outbound), {@code requests.inflight};</li>
 *   <li>counters: {@code frames.sent}, {@code frames.received}, {@code frames.refused} (tag
 *   {@code reason}: malformed, backpressure, record_rejected, message_refused,
 *   connection_over_limit), {@code connects} (tag {@code outcome}: connected, failed),
 *   {@code handshakes} (tag {@code outcome}: accepted, refused, timed_out, failed);</li>
 *   <li>a timer {@code requests} per request kind (tag {@code kind}, e.g. {@code map_put},
 *   {@code lock_acquire}) and {@code outcome} (success, failure): latency from the call until its
 *   answer.</li>
 * </ul>
 * Gauges read the node's status at most every 500 ms; they read NaN while the manager is not in
 * the cluster. Counters start again from 0 when the manager joins anew.
 */
public final class BopClusterMetrics implements MeterBinder {

  private static final Map<Integer, String> KIND_NAMES = kindNames();
  private static final long STATUS_MAX_AGE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  private final BopManagerCore core;
  private final String clusterName;
  private final CopyOnWriteArrayList<MeterRegistry> registries = new CopyOnWriteArrayList<>();
  private final Map<Long, Timer[]> timers = new ConcurrentHashMap<>();
  private volatile Tags tags = Tags.empty();
  private volatile BopNodeStatus status;
  private volatile BopNode statusOf;
  private volatile long statusAt;

  /** The metrics of {@code core}; made by the manager ({@code BopClusterManager.metrics()}). */
  public BopClusterMetrics(BopManagerCore core, String clusterName) {
    this.core = core;
    this.clusterName = clusterName;
  }

  @Override
  public synchronized void bindTo(MeterRegistry registry) {
    if (registries.contains(registry)) {
      return;
    }
    String nodeId = core.nodeId();
    tags = Tags.of("cluster", clusterName, "node", nodeId == null ? "" : nodeId);
    registries.add(registry);
    core.observeRequests(this::requestCompleted);

    gauge(registry, "vertx.bop.members", "Members of the cluster, as this node has applied them", s -> s.members().size());
    gauge(registry, "vertx.bop.voters", "Voters of the raft configuration this node has applied", BopNodeStatus::voters);
    gauge(registry, "vertx.bop.leader", "1 while this node leads the cluster, else 0", s -> s.isLeader() ? 1 : 0);
    gauge(registry, "vertx.bop.raft.term", "The raft term", s -> s.counter("term"));
    gauge(registry, "vertx.bop.raft.commit.index", "The highest raft log index known committed", s -> s.counter("commit_index"));
    gauge(registry, "vertx.bop.raft.applied.index", "The highest raft log index applied here", s -> s.counter("applied_index"));
    gauge(registry, "vertx.bop.raft.apply.lag", "Entries committed but not yet applied here",
      s -> Math.max(0, s.counter("commit_index") - s.counter("applied_index")));
    gauge(registry, "vertx.bop.raft.leaderless", "Seconds this node has reached no leader (0 with one)",
      s -> s.counter("ms_without_leader") / 1000.0);
    gauge(registry, "vertx.bop.raft.log.bytes", "Bytes of entry data this node's raft log holds", s -> s.counter("log_bytes"));
    Gauge.builder("vertx.bop.connections", this, m -> m.read(s -> s.counter("inbound_connections")))
      .description("Open cluster connections").tags(tags).tag("direction", "inbound").register(registry);
    Gauge.builder("vertx.bop.connections", this, m -> m.read(s -> s.counter("outbound_connections")))
      .description("Open cluster connections").tags(tags).tag("direction", "outbound").register(registry);
    Gauge.builder("vertx.bop.requests.inflight", core, c -> c.isActive() ? c.node().pendingRequests() : Double.NaN)
      .description("Requests of this node waiting for their answer").tags(tags).register(registry);

    counter(registry, "vertx.bop.frames.sent", "Frames sent to peers", "frames_sent", null, null);
    counter(registry, "vertx.bop.frames.received", "Frames received from peers", "frames_received", null, null);
    String refused = "Frames and connections refused, by reason";
    counter(registry, "vertx.bop.frames.refused", refused, "malformed_frames", "reason", "malformed");
    counter(registry, "vertx.bop.frames.refused", refused, "refused_backpressure", "reason", "backpressure");
    counter(registry, "vertx.bop.frames.refused", refused, "records_rejected", "reason", "record_rejected");
    counter(registry, "vertx.bop.frames.refused", refused, "messages_refused", "reason", "message_refused");
    counter(registry, "vertx.bop.frames.refused", refused, "connections_over_limit", "reason", "connection_over_limit");
    counter(registry, "vertx.bop.connects", "Outbound connection attempts", "connects", "outcome", "connected");
    counter(registry, "vertx.bop.connects", "Outbound connection attempts", "connect_failures", "outcome", "failed");
    String handshakes = "Handshakes with peers, by outcome";
    counter(registry, "vertx.bop.handshakes", handshakes, "handshakes_accepted", "outcome", "accepted");
    counter(registry, "vertx.bop.handshakes", handshakes, "handshakes_refused", "outcome", "refused");
    counter(registry, "vertx.bop.handshakes", handshakes, "handshakes_timed_out", "outcome", "timed_out");
    counter(registry, "vertx.bop.handshakes", handshakes, "handshakes_failed", "outcome", "failed");
  }

  private void gauge(MeterRegistry registry, String name, String description, ToDoubleFunction<BopNodeStatus> value) {
    Gauge.builder(name, this, m -> m.read(value)).description(description).tags(tags).register(registry);
  }

  private void counter(MeterRegistry registry, String name, String description, String counter, String tag, String tagValue) {
    FunctionCounter.Builder<BopClusterMetrics> b = FunctionCounter.builder(name, this, m -> {
      double v = m.read(s -> s.counter(counter));
      return Double.isNaN(v) ? 0 : v;
    }).description(description).tags(tags);
    if (tag != null) {
      b.tag(tag, tagValue);
    }
    b.register(registry);
  }

  /** A value of the node's status, read at most every 500 ms; NaN when not in the cluster. */
  private double read(ToDoubleFunction<BopNodeStatus> value) {
    if (!core.isActive()) {
      return Double.NaN;
    }
    BopNodeStatus s = status;
    BopNode node;
    try {
      node = core.node();
      if (s == null || statusOf != node || System.nanoTime() - statusAt > STATUS_MAX_AGE_NANOS) {
        s = node.status();
        status = s;
        statusOf = node;
        statusAt = System.nanoTime();
      }
    } catch (RuntimeException notInTheCluster) {
      return Double.NaN;
    }
    return value.applyAsDouble(s);
  }

  private void requestCompleted(int kind, long nanos, boolean succeeded) {
    long key = (long) kind << 1 | (succeeded ? 1 : 0);
    Timer[] forKind = timers.get(key);
    if (forKind == null || forKind.length != registries.size()) {
      forKind = timers.compute(key, (k, old) -> register(kind, succeeded));
    }
    for (Timer timer : forKind) {
      timer.record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** The timers of one kind and outcome, one per bound registry. */
  private Timer[] register(int kind, boolean succeeded) {
    String name = KIND_NAMES.getOrDefault(kind, String.format("0x%04x", kind));
    return registries.stream()
      .map(registry -> Timer.builder("vertx.bop.requests").description("Cluster requests of this node, from call to answer")
        .tags(tags).tag("kind", name).tag("outcome", succeeded ? "success" : "failure").register(registry))
      .toArray(Timer[]::new);
  }

  /** {@code MAP_PUT_REQUEST} = 0x0303 becomes 0x0303 -> "map_put", for every request kind of the protocol. */
  private static Map<Integer, String> kindNames() {
    Map<Integer, String> names = new HashMap<>();
    for (Field f : BopMessages.class.getFields()) {
      if (f.getType() == int.class && Modifier.isStatic(f.getModifiers()) && f.getName().endsWith("_REQUEST")) {
        try {
          String name = f.getName();
          names.put(f.getInt(null), name.substring(0, name.length() - "_REQUEST".length()).toLowerCase(Locale.ROOT));
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return names;
  }
}
