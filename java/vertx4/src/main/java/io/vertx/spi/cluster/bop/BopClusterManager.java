package io.vertx.spi.cluster.bop;

import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.impl.VertxInternal;
import io.vertx.core.impl.logging.Logger;
import io.vertx.core.impl.logging.LoggerFactory;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.core.shareddata.Lock;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.NodeInfo;
import io.vertx.core.spi.cluster.NodeListener;
import io.vertx.core.spi.cluster.NodeSelector;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.core.spi.cluster.RegistrationUpdateEvent;
import io.vertx.spi.cluster.bop.impl.BopContexts;
import io.vertx.spi.cluster.bop.impl.BopGateway;
import io.vertx.spi.cluster.bop.impl.BopLog;
import io.vertx.spi.cluster.bop.impl.BopManaged;
import io.vertx.spi.cluster.bop.impl.BopManagerCore;
import io.vertx.spi.cluster.bop.impl.BopNode;
import io.vertx.spi.cluster.bop.impl.BopRegistrations;

import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A Vert.x 4 cluster manager whose state lives in a replicated state machine in native code:
 * membership, node info, event-bus registrations, async maps with TTL, locks, counters and the
 * HA sync map are linearizable across the cluster (raft consensus), and a node that leaves or is
 * declared dead takes its registrations and locks with it.
 *
 * <p>The no-argument constructor is cheap and loads nothing (Vert.x instantiates every cluster
 * manager on the class path); the native library is loaded by {@link #join}. Every future a user
 * sees completes on that user's Vert.x context. Node-listener events run one at a time on a
 * thread of their own that may block, never after {@link #leave}. This class adapts the Vert.x 4
 * SPI onto the manager shared with the Vert.x 5 artifact ({@code impl.BopManagerCore}).
 */
public class BopClusterManager implements ClusterManager, BopManaged {

  static {
    BopLog.install(VertxLog::new);
  }

  private final BopClusterOptions options;
  private final BopManagerCore core;

  /** A cluster manager configured from system properties, environment variables and defaults. */
  public BopClusterManager() {
    this(new BopClusterOptions());
  }

  /** A cluster manager configured from JSON (see {@link BopClusterOptions#BopClusterOptions(JsonObject)}). */
  public BopClusterManager(JsonObject config) {
    this(new BopClusterOptions(config));
  }

  public BopClusterManager(BopClusterOptions options) {
    this.options = new BopClusterOptions(options);
    this.core = new BopManagerCore(this.options, getClass().getClassLoader());
  }

  public BopClusterOptions getOptions() {
    return new BopClusterOptions(options);
  }

  @Override
  public void init(Vertx vertx, NodeSelector nodeSelector) {
    VertxInternal internal = (VertxInternal) vertx;
    core.init(vertx, new BopContexts() {
      @Override
      public <T> Promise<T> promise() {
        return internal.getOrCreateContext().promise();
      }
    });
    core.registrationListener(new BopRegistrations.Listener() {
      @Override
      public boolean wantsUpdatesFor(String address) {
        return nodeSelector.wantsUpdatesFor(address);
      }

      @Override
      public void registrationsUpdated(RegistrationUpdateEvent event) {
        nodeSelector.registrationsUpdated(event);
      }
    });
  }

  /** The native node (its address and {@link BopNode#status()}); fails when the manager is not in the cluster. */
  public BopNode node() {
    return core.node();
  }

  /**
   * This manager's metrics, for a Micrometer registry: {@code manager.metrics().bindTo(registry)}
   * (see {@link BopClusterMetrics}; needs micrometer-core). With Vert.x's own Micrometer metrics
   * on, they are bound to its registry when the manager joins.
   */
  public BopClusterMetrics metrics() {
    return core.metrics();
  }

  /** The logic shared by both Vert.x lines' managers (for {@link BopClusterHealthCheck} and the metrics). */
  @Override
  public BopManagerCore core() {
    return core;
  }

  /**
   * How many times this node was removed from the cluster (declared dead while unreachable) and
   * admitted again; a lock granted in an earlier incarnation was lost.
   */
  public int incarnation() {
    return core.incarnation();
  }

  @Override
  public <K, V> void getAsyncMap(String name, Promise<AsyncMap<K, V>> promise) {
    promise.complete(core.asyncMap(name));
  }

  @Override
  public <K, V> Map<K, V> getSyncMap(String name) {
    return core.syncMap(name);
  }

  @Override
  public void getLockWithTimeout(String name, long timeout, Promise<Lock> promise) {
    BopGateway.complete(core.lock(name, timeout), done(promise));
  }

  @Override
  public void getCounter(String name, Promise<Counter> promise) {
    promise.complete(core.counter(name));
  }

  @Override
  public String getNodeId() {
    return core.nodeId();
  }

  @Override
  public List<String> getNodes() {
    return core.nodes();
  }

  @Override
  public void nodeListener(NodeListener listener) {
    core.nodeListener(listener);
  }

  @Override
  public void setNodeInfo(NodeInfo nodeInfo, Promise<Void> promise) {
    BopGateway.complete(core.setNodeInfo(nodeInfo), done(promise));
  }

  @Override
  public NodeInfo getNodeInfo() {
    return core.nodeInfo();
  }

  @Override
  public void getNodeInfo(String id, Promise<NodeInfo> promise) {
    BopGateway.complete(core.nodeInfo(id), done(promise));
  }

  @Override
  public void join(Promise<Void> promise) {
    BopGateway.complete(core.join(), done(promise));
  }

  @Override
  public void leave(Promise<Void> promise) {
    BopGateway.complete(core.leave(), done(promise));
  }

  @Override
  public boolean isActive() {
    return core.isActive();
  }

  @Override
  public void addRegistration(String address, RegistrationInfo registrationInfo, Promise<Void> promise) {
    BopGateway.complete(core.addRegistration(address, registrationInfo), done(promise));
  }

  @Override
  public void removeRegistration(String address, RegistrationInfo registrationInfo, Promise<Void> promise) {
    BopGateway.complete(core.removeRegistration(address, registrationInfo), done(promise));
  }

  @Override
  public void getRegistrations(String address, Promise<List<RegistrationInfo>> promise) {
    BopGateway.complete(core.registrations(address), done(promise));
  }

  @Override
  public String clusterHost() {
    return core.clusterHost();
  }

  @Override
  public String clusterPublicHost() {
    return core.clusterPublicHost();
  }

  /** Completes a Vert.x 4 promise with a value, or fails it. */
  private static <T> BiConsumer<T, Throwable> done(Promise<T> promise) {
    return (value, failure) -> {
      if (failure == null) {
        promise.complete(value);
      } else {
        promise.fail(failure);
      }
    };
  }

  /** The shared classes' logger, written through Vert.x 4's logging. */
  private static final class VertxLog extends BopLog {
    private final Logger logger;

    VertxLog(String name) {
      logger = LoggerFactory.getLogger(name);
    }

    @Override
    public boolean isDebugEnabled() {
      return logger.isDebugEnabled();
    }

    @Override
    public void debug(String message) {
      logger.debug(message);
    }

    @Override
    public void info(String message) {
      logger.info(message);
    }

    @Override
    public void warn(String message, Throwable failure) {
      logger.warn(message, failure);
    }

    @Override
    public void error(String message, Throwable failure) {
      logger.error(message, failure);
    }
  }
}
