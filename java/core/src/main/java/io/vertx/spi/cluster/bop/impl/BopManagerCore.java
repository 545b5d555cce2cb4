package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.Vertx;
import io.vertx.core.VertxException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.core.shareddata.Lock;
import io.vertx.core.spi.cluster.NodeInfo;
import io.vertx.core.spi.cluster.NodeListener;
import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.bop.BopClusterMetrics;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.metrics.VertxMicrometer;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * What a {@code BopClusterManager} does, whichever Vert.x line it serves: joining and leaving,
 * the member list and node listener, node info, locks, maps, counters and registrations. Each
 * line's manager is a thin adapter of its SPI onto this class (Vert.x 5 completes a
 * {@code Completable}, Vert.x 4 a {@code Promise}); results come back as
 * {@link CompletableFuture}s whose failures are unwrapped by {@link BopGateway#complete}.
 *
 * <p>Node-listener events run one at a time on a thread of their own that may block, never after
 * {@link #leave}.
 */
public final class BopManagerCore {

  private static final BopLog log = BopLog.get(BopManagerCore.class);

  private final BopClusterOptions options;
  private final ClassLoader classLoader;
  private final BopGateway gateway;
  private final BopRegistrations registrations;
  private volatile BopNode node;
  /** Set when leaving starts: the node listener hears nothing more. */
  private volatile boolean leaving;
  private volatile String nodeId;
  private volatile NodeInfo nodeInfo;
  private volatile NodeListener nodeListener;
  private final List<String> members = Collections.synchronizedList(new ArrayList<>());
  private ExecutorService nodeEvents;
  private volatile BopNode.RequestObserver requestObserver;
  private BopClusterMetrics metrics;
  private volatile BopContexts contexts;

  /** {@code classLoader} resolves the classes of values read back (the manager's own). */
  public BopManagerCore(BopClusterOptions options, ClassLoader classLoader) {
    this.options = options;
    this.classLoader = classLoader;
    this.gateway = new BopGateway(options.getRequestTimeout());
    this.registrations = new BopRegistrations(gateway);
  }

  public void init(Vertx vertx, BopContexts contexts) {
    this.contexts = contexts;
    gateway.init(vertx, contexts);
  }

  /** The native node; fails when the manager is not in the cluster. */
  public BopNode node() {
    return gateway.node();
  }

  public int incarnation() {
    return gateway.incarnation();
  }

  public <K, V> AsyncMap<K, V> asyncMap(String name) {
    return gateway.asyncMap(name);
  }

  public <K, V> Map<K, V> syncMap(String name) {
    return gateway.syncMap(name);
  }

  public Counter counter(String name) {
    return gateway.counter(name);
  }

  /** The lock {@code name}, granted within {@code timeout} ms or failed with "Timed out waiting to get lock". */
  public CompletableFuture<Lock> lock(String name, long timeout) {
    return gateway.request(id -> BopMessages.lockAcquireTimeout(id, name, timeout), BopResponses::lockAcquire, timeout)
      .thenApply(result -> {
        if (!result.granted()) {
          throw new CompletionException(new VertxException("Timed out waiting to get lock " + name, true));
        }
        return (Lock) gateway.grantedLock(name, result.fencingToken());
      });
  }

  public String nodeId() {
    return nodeId;
  }

  public List<String> nodes() {
    synchronized (members) {
      return new ArrayList<>(members);
    }
  }

  public void nodeListener(NodeListener listener) {
    this.nodeListener = listener;
  }

  public CompletableFuture<Void> setNodeInfo(NodeInfo nodeInfo) {
    this.nodeInfo = nodeInfo;
    Buffer buffer = Buffer.buffer();
    nodeInfo.writeToBuffer(buffer);
    return gateway.request(id -> BopMessages.setNodeInfo(id, nodeId, buffer.getBytes()), BopGateway::empty);
  }

  public NodeInfo nodeInfo() {
    return nodeInfo;
  }

  public CompletableFuture<NodeInfo> nodeInfo(String id) {
    return gateway.request(requestId -> BopMessages.getNodeInfo(requestId, id), BopResponses::optionalBytes).thenApply(bytes -> {
      if (bytes == null) {
        throw new CompletionException(new VertxException("Not a member of the cluster", true));
      }
      NodeInfo info = new NodeInfo();
      info.readFromBuffer(0, Buffer.buffer(bytes));
      return info;
    });
  }

  /** Starts the native node and joins the cluster, on a worker thread. */
  public CompletableFuture<Void> join() {
    return blocking(() -> {
      synchronized (this) {
        if (gateway.isActive()) {
          return;
        }
        BopValueCodec codec = new BopValueCodec(classLoader, options.getSerializableAllowList());
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
        started.observe(requestObserver);
        gateway.open(nodeId, started, codec);
        bindToVertxMetrics();
        log.debug("Joined cluster " + options.getClusterName() + " as " + nodeId + " at " + started.address());
      }
    });
  }

  /**
   * This manager's Micrometer metrics ({@link BopClusterMetrics}); needs micrometer-core on the
   * class path.
   */
  public synchronized BopClusterMetrics metrics() {
    if (metrics == null) {
      metrics = new BopClusterMetrics(this, options.getClusterName());
    }
    return metrics;
  }

  /** Reports the outcome of every request of this and later nodes to {@code observer}. */
  public void observeRequests(BopNode.RequestObserver observer) {
    this.requestObserver = observer;
    BopNode n = node;
    if (n != null) {
      n.observe(observer);
    }
  }

  /** When Vert.x runs with its Micrometer metrics, the manager's metrics go to the same registry. */
  private void bindToVertxMetrics() {
    Object vertxMetrics = contexts == null ? null : contexts.metrics();
    if (vertxMetrics == null) {
      return;
    }
    try {
      if (VertxMicrometer.bind(vertxMetrics, metrics())) {
        log.debug("Cluster metrics bound to Vert.x's Micrometer registry");
      }
    } catch (LinkageError notOnTheClassPath) {
      // Micrometer or vertx-micrometer-metrics absent: metrics only when the application binds them.
    }
  }

  /** Leaves the cluster and stops the native node, on a worker thread. */
  public CompletableFuture<Void> leave() {
    return blocking(() -> {
      synchronized (this) {
        if (!gateway.isActive()) {
          return;
        }
        finishNodeEvents();
        gateway.close();
        try {
          node.leave();
        } finally {
          registrations.close();
          members.clear();
        }
      }
    });
  }

  private interface Blocking {
    void run() throws Exception;
  }

  private CompletableFuture<Void> blocking(Blocking task) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    gateway.vertx().<Void>executeBlocking(() -> {
      task.run();
      return null;
    }, false).onComplete(ar -> {
      if (ar.succeeded()) {
        done.complete(null);
      } else {
        done.completeExceptionally(ar.cause());
      }
    });
    return done;
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

  public boolean isActive() {
    return gateway.isActive();
  }

  public void registrationListener(BopRegistrations.Listener listener) {
    registrations.listener(listener);
  }

  public CompletableFuture<Void> addRegistration(String address, RegistrationInfo registrationInfo) {
    return registrations.add(address, registrationInfo);
  }

  public CompletableFuture<Void> removeRegistration(String address, RegistrationInfo registrationInfo) {
    return registrations.remove(address, registrationInfo);
  }

  public CompletableFuture<List<RegistrationInfo>> registrations(String address) {
    return registrations.get(address);
  }

  /** The host the event bus binds to when the application names none: the one the node binds. */
  public String clusterHost() {
    return options.getHost();
  }

  /**
   * The host the event bus advertises when the application names none: the one the node
   * advertises to the other members (the public host, or the address it derived for a wildcard
   * bind), once joined.
   */
  public String clusterPublicHost() {
    BopNode n = node;
    if (n != null && gateway.isActive()) {
      try {
        return hostOf(n.address());
      } catch (RuntimeException closedMeanwhile) {
        // Fall through to the configuration.
      }
    }
    String configured = options.getPublicHost();
    return configured != null ? configured : options.getHost();
  }

  /** The host of {@code host:port} or {@code [v6]:port}, without brackets. */
  static String hostOf(String address) {
    int colon = address.lastIndexOf(':');
    String host = colon < 0 ? address : address.substring(0, colon);
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
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
      } catch (RejectedExecutionException leaving) {
        // Leaving meanwhile: nothing to write back.
      }
    }

    @Override
    public void stopped(String reason) {
      log.error("The cluster node " + nodeId + " stopped: " + reason + ". This Vert.x instance is no longer a member of cluster "
        + options.getClusterName() + " (the others declare it dead); its cluster operations fail. Close it and start a new one.");
      // Off the native callback thread, which is the one ending.
      Thread closer = new Thread(BopManagerCore.this::closeStopped, "vertx-bop-stopped-" + nodeId);
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
    } catch (RejectedExecutionException ignored) {
      // Left the cluster meanwhile: no events after leave.
    }
  }
}
