package io.vertx.spi.cluster.bop;

import io.vertx.core.Completable;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.internal.logging.Logger;
import io.vertx.core.internal.logging.LoggerFactory;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.core.shareddata.Lock;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.NodeInfo;
import io.vertx.core.spi.cluster.NodeListener;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.core.spi.cluster.RegistrationListener;
import io.vertx.spi.cluster.bop.impl.BopGateway;
import io.vertx.spi.cluster.bop.impl.BopNode;
import io.vertx.spi.cluster.bop.impl.BopRegistrations;
import io.vertx.spi.cluster.bop.impl.BopValueCodec;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A Vert.x cluster manager whose state lives in a replicated state machine in native code:
 * membership, node info, event-bus registrations, async maps with TTL, locks, counters and the
 * HA sync map are linearizable across the cluster (raft consensus), and a node that leaves or is
 * declared dead takes its registrations and locks with it.
 *
 * <p>The no-argument constructor is cheap and loads nothing (Vert.x instantiates every cluster
 * manager on the class path); the native library is loaded by {@link #join}. Every future a user
 * sees completes on that user's Vert.x context. Node-listener events run one at a time on a
 * thread of their own that may block, never after {@link #leave}.
 */
public class BopClusterManager implements ClusterManager {

  private static final Logger log = LoggerFactory.getLogger(BopClusterManager.class);

  private final BopClusterOptions options;
  private final BopGateway gateway;
  private volatile BopNode node;
  /** Set when leaving starts: the node listener hears nothing more. */
  private volatile boolean leaving;
  private volatile String nodeId;
  private volatile NodeInfo nodeInfo;
  private volatile NodeListener nodeListener;
  private final List<String> members = Collections.synchronizedList(new ArrayList<>());
  private final BopRegistrations registrations;
  private ExecutorService nodeEvents;

  /** A cluster manager configured from system properties, environment variables and defaults. */
  public BopClusterManager() {
    this(new BopClusterOptions());
  }

  /** A cluster manager configured from JSON (see {@link BopClusterOptions#BopClusterOptions(io.vertx.core.json.JsonObject)}). */
  public BopClusterManager(io.vertx.core.json.JsonObject config) {
    this(new BopClusterOptions(config));
  }

  public BopClusterManager(BopClusterOptions options) {
    this.options = new BopClusterOptions(options);
    this.gateway = new BopGateway(this.options.getRequestTimeout());
    this.registrations = new BopRegistrations(gateway);
  }

  public BopClusterOptions getOptions() {
    return new BopClusterOptions(options);
  }

  @Override
  public void init(Vertx vertx) {
    gateway.init((VertxInternal) vertx);
  }

  /** The native node (its address and {@link BopNode#status()}); fails when the manager is not in the cluster. */
  public BopNode node() {
    return gateway.node();
  }

  /**
   * How many times this node was removed from the cluster (declared dead while unreachable) and
   * admitted again; a lock granted in an earlier incarnation was lost.
   */
  public int incarnation() {
    return gateway.incarnation();
  }

  @Override
  public <K, V> void getAsyncMap(String name, Completable<AsyncMap<K, V>> promise) {
    promise.succeed(gateway.asyncMap(name));
  }

  @Override
  public <K, V> Map<K, V> getSyncMap(String name) {
    return gateway.syncMap(name);
  }

  @Override
  public void getLockWithTimeout(String name, long timeout, Completable<Lock> promise) {
    CompletableFuture<Lock> lock = gateway.request(id -> BopMessages.lockAcquireTimeout(id, name, timeout), BopMessages::lockAcquire, timeout)
      .thenApply(result -> {
        if (!result.granted()) {
          throw new CompletionException(new io.vertx.core.VertxException("Timed out waiting to get lock " + name, true));
        }
        return (Lock) gateway.grantedLock(name, result.fencingToken());
      });
    BopGateway.complete(lock, promise);
  }

  @Override
  public void getCounter(String name, Completable<Counter> promise) {
    promise.succeed(gateway.counter(name));
  }

  @Override
  public String getNodeId() {
    return nodeId;
  }

  @Override
  public List<String> getNodes() {
    synchronized (members) {
      return new ArrayList<>(members);
    }
  }

  @Override
  public void nodeListener(NodeListener listener) {
    this.nodeListener = listener;
  }

  @Override
  public void setNodeInfo(NodeInfo nodeInfo, Completable<Void> promise) {
    this.nodeInfo = nodeInfo;
    Buffer buffer = Buffer.buffer();
    nodeInfo.writeToBuffer(buffer);
    BopGateway.complete(gateway.request(id -> BopMessages.setNodeInfo(id, nodeId, buffer.getBytes()), BopGateway::empty), promise);
  }

  @Override
  public NodeInfo getNodeInfo() {
    return nodeInfo;
  }

  @Override
  public void getNodeInfo(String id, Completable<NodeInfo> promise) {
    BopGateway.complete(gateway.request(requestId -> BopMessages.getNodeInfo(requestId, id), BopMessages::optionalBytes).thenApply(bytes -> {
      if (bytes == null) {
        throw new CompletionException(new io.vertx.core.VertxException("Not a member of the cluster", true));
      }
      NodeInfo info = new NodeInfo();
      info.readFromBuffer(0, Buffer.buffer(bytes));
      return info;
    }), promise);
  }

  @Override
  public void join(Completable<Void> promise) {
    vertx().<Void>executeBlocking(() -> {
      synchronized (this) {
        if (gateway.isActive()) {
          return null;
        }
        BopValueCodec codec = new BopValueCodec(getClass().getClassLoader(), options.getSerializableAllowList());
        if (options.getSecret() == null && options.isInsecure()) {
          log.warn("Cluster " + options.getClusterName() + " runs without a cluster secret (vertx.bop.insecure=true): "
            + "any process that reaches " + options.getHost() + " can join it, read its state and change it");
        }
        nodeId = UUID.randomUUID().toString();
        nodeEvents = Executors.newSingleThreadExecutor(r -> {
          Thread t = new Thread(r, "vertx-bop-node-events-" + nodeId);
          t.setDaemon(true);
          return t;
        });
        BopNode started;
        try {
          started = BopNode.start(nodeId, options, new Events());
        } catch (RuntimeException | Error e) {
          nodeEvents.shutdown();
          nodeEvents = null;
          nodeId = null;
          throw e;
        }
        registrations.open();
        node = started;
        leaving = false;
        synchronized (members) {
          members.clear();
          members.addAll(started.members());
        }
        gateway.open(nodeId, started, codec);
        log.debug("Joined cluster " + options.getClusterName() + " as " + nodeId + " at " + started.address());
        return null;
      }
    }, false).onComplete(ar -> promise.complete(null, ar.cause()));
  }

  @Override
  public void leave(Completable<Void> promise) {
    vertx().<Void>executeBlocking(() -> {
      synchronized (this) {
        if (!gateway.isActive()) {
          return null;
        }
        finishNodeEvents();
        gateway.close();
        try {
          node.leave();
        } finally {
          registrations.close();
          members.clear();
        }
        return null;
      }
    }, false).onComplete(ar -> promise.complete(null, ar.cause()));
  }

  /**
   * Stops node events and waits, at most the request timeout, for a listener call in progress
   * to return while the node can still answer it. Vert.x HA reads the cluster map from
   * {@code nodeLeft}; a node closed under that call would make HA report a failover that failed.
   */
  private void finishNodeEvents() throws InterruptedException {
    leaving = true;
    ExecutorService events = nodeEvents;
    events.shutdown();
    if (!events.awaitTermination(options.getRequestTimeout(), TimeUnit.MILLISECONDS)) {
      log.warn("Leaving while the node listener is still busy after " + options.getRequestTimeout() + " ms");
    }
  }

  @Override
  public boolean isActive() {
    return gateway.isActive();
  }

  private VertxInternal vertx() {
    return gateway.vertx();
  }

  @Override
  public void registrationListener(RegistrationListener registrationListener) {
    registrations.listener(registrationListener);
  }

  @Override
  public void addRegistration(String address, RegistrationInfo registrationInfo, Completable<Void> promise) {
    registrations.add(address, registrationInfo, promise);
  }

  @Override
  public void removeRegistration(String address, RegistrationInfo registrationInfo, Completable<Void> promise) {
    registrations.remove(address, registrationInfo, promise);
  }

  @Override
  public void getRegistrations(String address, Completable<List<RegistrationInfo>> promise) {
    registrations.get(address, promise);
  }

  @Override
  public String clusterHost() {
    return options.getHost();
  }

  @Override
  public String clusterPublicHost() {
    return options.getHost();
  }

  /** Membership and registration events from the native node, in apply order. */
  private final class Events implements BopNode.Events {

    @Override
    public void nodeAdded(String id) {
      nodeEvent(id, true);
    }

    @Override
    public void nodeLeft(String id) {
      nodeEvent(id, false);
    }

    @Override
    public void registrationsChanged(String address, List<RegistrationInfo> list) {
      registrations.changed(address, list);
    }

    @Override
    public void rejoined() {
      gateway.rejoined();
      log.warn("The cluster node " + nodeId + " had been removed from cluster " + options.getClusterName()
        + " after being unreachable (a pause or a network partition longer than the failure timeout) and is a member again."
        + " Locks it held were released; requests in flight then failed. Its event-bus registrations and node info are written back.");
      ExecutorService events = nodeEvents;
      if (events == null || events.isShutdown()) {
        return;
      }
      try {
        // After the membership events of the rejoin, on the thread that runs them.
        events.execute(() -> gateway.writeBackHaEntry(failure -> log.warn("Writing back this node's HA entry after the rejoin failed", failure)));
      } catch (java.util.concurrent.RejectedExecutionException leaving) {
        // Leaving meanwhile: nothing to write back.
      }
    }

    @Override
    public void stopped(String reason) {
      log.error("The cluster node " + nodeId + " stopped: " + reason + ". This Vert.x instance is no longer a member of cluster "
        + options.getClusterName() + " (the others declare it dead); its cluster operations fail. Close it and start a new one.");
      // Off the native callback thread, which is the one ending.
      Thread closer = new Thread(BopClusterManager.this::closeStopped, "vertx-bop-stopped-" + nodeId);
      closer.setDaemon(true);
      closer.start();
    }
  }

  /** Releases what a node whose native loop stopped by itself still holds. */
  private synchronized void closeStopped() {
    if (!gateway.isActive()) {
      return;
    }
    leaving = true;
    gateway.close();
    nodeEvents.shutdown();
    try {
      node.close();
    } catch (RuntimeException alreadyGone) {
      log.debug("Closing the stopped node: " + alreadyGone.getMessage());
    } finally {
      registrations.close();
      members.clear();
    }
  }

  /**
   * Applies a membership change to the member list and tells the node listener, on the event
   * thread, so that the list a listener reads is the one of the event it handles.
   */
  private void nodeEvent(String id, boolean added) {
    ExecutorService events = nodeEvents;
    if (events == null || events.isShutdown()) {
      return;
    }
    try {
      events.execute(() -> {
        synchronized (members) {
          if (added && !members.contains(id)) {
            members.add(id);
          } else if (!added) {
            members.remove(id);
          }
        }
        NodeListener listener = nodeListener;
        if (!gateway.isActive() || leaving || listener == null || id.equals(nodeId)) {
          return;
        }
        try {
          if (added) {
            listener.nodeAdded(id);
          } else {
            listener.nodeLeft(id);
          }
        } catch (Throwable t) {
          log.error("The node listener failed on " + (added ? "nodeAdded " : "nodeLeft ") + id, t);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException ignored) {
      // Left the cluster meanwhile: no events after leave.
    }
  }
}
