package io.vertx.spi.cluster.bop;

import io.vertx.core.Completable;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.ContextInternal;
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
import io.vertx.spi.cluster.bop.impl.BopAsyncMap;
import io.vertx.spi.cluster.bop.impl.BopCounter;
import io.vertx.spi.cluster.bop.impl.BopLockImpl;
import io.vertx.spi.cluster.bop.impl.BopNode;
import io.vertx.spi.cluster.bop.impl.BopRegistrations;
import io.vertx.spi.cluster.bop.impl.BopSyncMap;
import io.vertx.spi.cluster.bop.impl.BopValueCodec;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
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
import java.util.function.Function;
import java.util.function.IntFunction;

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
  private VertxInternal vertx;
  private volatile BopNode node;
  private volatile boolean active;
  /** Set when leaving starts: the node listener hears nothing more. */
  private volatile boolean leaving;
  private volatile String nodeId;
  private volatile NodeInfo nodeInfo;
  private volatile NodeListener nodeListener;
  private volatile BopValueCodec codec;
  private final List<String> members = Collections.synchronizedList(new ArrayList<>());
  private final BopRegistrations registrations = new BopRegistrations(this);
  private ExecutorService nodeEvents;
  /** How many times this node was removed from the cluster (declared dead) and admitted again. */
  private volatile int incarnation;
  /** This node's entry in Vert.x HA's cluster map as last written (encoded key and value), to write back after a rejoin. */
  private volatile byte[][] haEntry;

  /** The name of the sync map Vert.x HA keeps its cluster view in. */
  public static final String HA_MAP = "__vertx.haInfo";

  /** A cluster manager configured from system properties, environment variables and defaults. */
  public BopClusterManager() {
    this(new BopClusterOptions());
  }

  public BopClusterManager(BopClusterOptions options) {
    this.options = new BopClusterOptions(options);
  }

  public BopClusterOptions getOptions() {
    return new BopClusterOptions(options);
  }

  @Override
  public void init(Vertx vertx) {
    this.vertx = (VertxInternal) vertx;
  }

  /** The Vert.x instance this manager serves. */
  public VertxInternal vertx() {
    return vertx;
  }

  /** The native node; fails when the manager is not in the cluster. */
  public BopNode node() {
    BopNode n = node;
    if (n == null || !active) {
      throw new IllegalStateException("The cluster manager is not active (join first, or it has left)");
    }
    return n;
  }

  public BopValueCodec codec() {
    return codec;
  }

  /**
   * How many times this node was removed from the cluster (declared dead while unreachable) and
   * admitted again; a lock granted in an earlier incarnation was lost.
   */
  public int incarnation() {
    return incarnation;
  }

  /**
   * Records a write of the HA cluster map: this node's own entry is written back after a
   * rejoin (the node that failed it over removed it). {@code value} null for a removal.
   */
  public void syncMapWritten(String map, byte[] key, byte[] value) {
    if (!HA_MAP.equals(map) || nodeId == null || !java.util.Arrays.equals(key, codec.encode(nodeId))) {
      return;
    }
    haEntry = value == null ? null : new byte[][] { key, value };
  }

  public long requestTimeout() {
    return options.getRequestTimeout();
  }

  /**
   * Sends the request built for a fresh request id and decodes its answer; a manager that is not
   * in the cluster gives a failed future instead of throwing.
   */
  public <T> CompletableFuture<T> request(IntFunction<byte[]> build, Function<BopFrame, T> decode) {
    return request(build, decode, 0);
  }

  /** {@link #request(IntFunction, Function)} for a request that may wait {@code waitsMs} longer than the request timeout. */
  private <T> CompletableFuture<T> request(IntFunction<byte[]> build, Function<BopFrame, T> decode, long waitsMs) {
    try {
      BopNode n = node();
      int id = n.nextRequestId();
      return n.call(id, build.apply(id), decode, waitsMs);
    } catch (RuntimeException e) {
      CompletableFuture<T> failed = new CompletableFuture<>();
      failed.completeExceptionally(e);
      return failed;
    }
  }

  /** A future on the caller's context completed by {@code result}, unwrapping its failure. */
  public <T> Future<T> toFuture(CompletableFuture<T> result) {
    ContextInternal context = vertx.getOrCreateContext();
    Promise<T> promise = context.promise();
    result.whenComplete((value, failure) -> {
      if (failure != null) {
        promise.fail(unwrap(failure));
      } else {
        promise.complete(value);
      }
    });
    return promise.future();
  }

  /** Completes a core-supplied promise from a native answer. */
  public static <T> void complete(CompletableFuture<T> result, Completable<T> promise) {
    result.whenComplete((value, failure) -> promise.complete(value, failure == null ? null : unwrap(failure)));
  }

  /** Reads a response without fields. */
  public static Void empty(BopFrame frame) {
    BopMessages.empty(frame);
    return null;
  }

  public static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  @Override
  public <K, V> void getAsyncMap(String name, Completable<AsyncMap<K, V>> promise) {
    promise.succeed(new BopAsyncMap<>(this, name));
  }

  @Override
  public <K, V> Map<K, V> getSyncMap(String name) {
    return new BopSyncMap<>(this, name);
  }

  @Override
  public void getLockWithTimeout(String name, long timeout, Completable<Lock> promise) {
    CompletableFuture<Lock> lock = request(id -> BopMessages.lockAcquireTimeout(id, name, timeout), BopMessages::lockAcquire, timeout)
      .thenApply(result -> {
        if (!result.granted()) {
          throw new CompletionException(new io.vertx.core.VertxException("Timed out waiting to get lock " + name, true));
        }
        return new BopLockImpl(this, name, result.fencingToken(), incarnation);
      });
    complete(lock, promise);
  }

  @Override
  public void getCounter(String name, Completable<Counter> promise) {
    promise.succeed(new BopCounter(this, name));
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
    complete(request(id -> BopMessages.setNodeInfo(id, nodeId, buffer.getBytes()), BopClusterManager::empty), promise);
  }

  @Override
  public NodeInfo getNodeInfo() {
    return nodeInfo;
  }

  @Override
  public void getNodeInfo(String id, Completable<NodeInfo> promise) {
    complete(request(requestId -> BopMessages.getNodeInfo(requestId, id), BopMessages::optionalBytes).thenApply(bytes -> {
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
    vertx.<Void>executeBlocking(() -> {
      synchronized (this) {
        if (active) {
          return null;
        }
        codec = new BopValueCodec(getClass().getClassLoader(), options.getSerializableAllowList());
        if (options.getSecret() == null && options.isInsecure()) {
          log.warn("Cluster " + options.getClusterName() + " runs without a cluster secret (vertx.bop.insecure=true): "
            + "any process that reaches " + options.getHost() + " can join it, read its state and change it");
        }
        nodeId = UUID.randomUUID().toString();
        incarnation = 0;
        haEntry = null;
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
        active = true;
        log.debug("Joined cluster " + options.getClusterName() + " as " + nodeId + " at " + started.address());
        return null;
      }
    }, false).onComplete(ar -> promise.complete(null, ar.cause()));
  }

  @Override
  public void leave(Completable<Void> promise) {
    vertx.<Void>executeBlocking(() -> {
      synchronized (this) {
        if (!active) {
          return null;
        }
        finishNodeEvents();
        active = false;
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
    return active;
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
      incarnation++;
      log.warn("The cluster node " + nodeId + " had been removed from cluster " + options.getClusterName()
        + " after being unreachable (a pause or a network partition longer than the failure timeout) and is a member again."
        + " Locks it held were released; requests in flight then failed. Its event-bus registrations and node info are written back.");
      byte[][] entry = haEntry;
      ExecutorService events = nodeEvents;
      if (entry == null || events == null || events.isShutdown()) {
        return;
      }
      try {
        // After the membership events of the rejoin, on the thread that runs them.
        events.execute(() -> request(id -> BopMessages.syncMapPut(id, HA_MAP, entry[0], entry[1]), BopMessages::optionalBytes)
          .whenComplete((previous, failure) -> {
            if (failure != null) {
              log.warn("Writing back this node's HA entry after the rejoin failed", unwrap(failure));
            }
          }));
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
    if (!active) {
      return;
    }
    leaving = true;
    active = false;
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
        if (!active || leaving || listener == null || id.equals(nodeId)) {
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
