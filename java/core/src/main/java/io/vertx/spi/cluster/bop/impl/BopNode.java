package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.jni.BopNative;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeSettings;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeStatus;
import io.vertx.spi.cluster.bop.impl.jni.NativeLibrary;
import io.vertx.spi.cluster.bop.impl.jni.NativeLog;
import io.vertx.spi.cluster.bop.impl.jni.NativeListener;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A started native node seen from Java: sends request frames through {@link BopNative#requests}
 * and completes the matching future when the response frame comes back on the native callback
 * thread. The futures complete on that thread; callers hop onto their Vert.x context themselves.
 * An {@code ErrorResponse} fails the future with a {@link BopClusterException} carrying its code.
 *
 * <p>No future is left waiting forever: the native core answers every request (at the latest at
 * its request timeout), and as a safety net a request still unanswered {@link #ANSWER_GRACE_MS}
 * after that (plus the time it may legitimately wait, a lock's timeout) fails with a timeout that
 * says so. A node whose native loop stopped by itself fails every waiting and later request with
 * the reason it gave.
 */
public final class BopNode {

  /** What the cluster manager hears from the node, on the native callback thread, in order. */
  public interface Events {
    void nodeAdded(String nodeId);

    void nodeLeft(String nodeId);

    void registrationsChanged(String address, List<RegistrationInfo> registrations);

    /** This node was removed from the cluster while unreachable and is a member again (see {@link NativeListener#onRejoined}). */
    void rejoined();

    /** The native node stopped by itself (see {@link NativeListener#onStopped}); after the node has failed its requests. */
    void stopped(String reason);
  }

  /**
   * Hears every request's outcome (for metrics): its kind, how long it took, and whether it
   * succeeded (an error answer, a timeout or a closed node did not).
   */
  public interface RequestObserver {
    void completed(int kind, long nanos, boolean succeeded);
  }

  private volatile long handle;
  private final AtomicInteger requestIds = new AtomicInteger();
  /** Requests waiting to cross into native code; whoever finds none crossing sends them all. */
  private final ConcurrentLinkedQueue<Outgoing> outgoing = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean sending = new AtomicBoolean();
  private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
  /** Why the node takes no more requests; null while it does. */
  private volatile String closed;
  private volatile RequestObserver observer;
  private final long requestTimeoutMs;
  private final long graceMs;
  private ScheduledFuture<?> sweeper;

  /** How long past the native request timeout a request may stay unanswered before Java gives up. */
  static final long ANSWER_GRACE_MS = 5_000;
  private static final ScheduledExecutorService DEADLINES = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "vertx-bop-request-deadlines");
    t.setDaemon(true);
    return t;
  });

  /** A request waiting for its answer, and until when it may. */
  private static final class Pending {
    final CompletableFuture<BopFrame> answer = new CompletableFuture<>();
    final long deadlineNanos;
    final long waitMs;

    Pending(long waitMs) {
      this.waitMs = waitMs;
      this.deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
    }
  }

  /** A node not started yet, whose requests time out natively after {@code requestTimeoutMs}. */
  BopNode(long requestTimeoutMs, long graceMs) {
    this.requestTimeoutMs = requestTimeoutMs;
    this.graceMs = graceMs;
  }

  /**
   * Loads the native library, starts a node and returns once it is a member of the cluster.
   * Blocks for as long as joining takes: call it off the event loop.
   */
  public static BopNode start(String nodeId, BopClusterOptions options, Events events) {
    NativeLibrary.load();
    NativeLog.install();
    BopNode node = new BopNode(options.getRequestTimeout(), ANSWER_GRACE_MS);
    NativeListener listener = new NativeListener() {
      @Override
      public void onResponses(byte[] frames) {
        for (byte[] frame : BopFrame.split(frames)) {
          node.onResponse(frame);
        }
      }

      @Override
      public void onNodeAdded(String id) {
        events.nodeAdded(id);
      }

      @Override
      public void onNodeLeft(String id) {
        events.nodeLeft(id);
      }

      @Override
      public void onRegistrationsChanged(String address, byte[] registrations) {
        events.registrationsChanged(address, BopResponses.registrationList(registrations));
      }

      @Override
      public void onRejoined() {
        events.rejoined();
      }

      @Override
      public void onStopped(String reason) {
        node.closed("The cluster node stopped: " + reason);
        events.stopped(reason);
      }
    };
    node.handle = BopNative.start(BopNodeSettings.encode(nodeId, options), listener);
    long sweep = Math.max(100, Math.min(1000, node.requestTimeoutMs / 10));
    node.sweeper = DEADLINES.scheduleWithFixedDelay(node::giveUpLateRequests, sweep, sweep, TimeUnit.MILLISECONDS);
    return node;
  }

  /** The native handle, for the JNI benchmark's native-side timing (test code). */
  long handle() {
    return handle;
  }

  /** Address, leadership, members, voters and transport counters, as the node reports them. */
  public BopNodeStatus status() {
    return BopNodeStatus.decode(BopNative.status(handle));
  }

  /** Member ids in join order, as the node has applied them. */
  public List<String> members() {
    return status().members();
  }

  /** The {@code host:port} the node listens on for cluster traffic. */
  public String address() {
    return status().address();
  }

  public boolean isLeader() {
    return status().isLeader();
  }

  /**
   * How many voters the raft configuration this node has applied holds: after a death, the
   * cluster is back to full strength once this is again the target (one voter for one or two
   * members, else up to the configured odd number).
   */
  public int voterCount() {
    return status().voters();
  }

  /** Leaves the cluster (blocking until the departure is committed) and closes the node. */
  public void leave() {
    try {
      BopNative.leave(handle);
    } finally {
      closed("The cluster manager has left the cluster");
    }
  }

  /** Closes the node without leaving, as a crash would. */
  public void close() {
    try {
      BopNative.close(handle);
    } finally {
      closed("The cluster manager has left the cluster");
    }
  }

  /** A fresh request id (never 0, which the native join uses). */
  public int nextRequestId() {
    int id;
    do {
      id = requestIds.incrementAndGet();
    } while (id == 0);
    return id;
  }

  /**
   * Sends a request frame built for {@code requestId} and decodes the response frame with
   * {@code decode} (one of {@link BopMessages}' response readers).
   */
  public <T> CompletableFuture<T> call(int requestId, byte[] frame, Function<BopFrame, T> decode) {
    return call(requestId, frame, decode, 0);
  }

  /**
   * {@link #call(int, byte[], Function)} for a request that may legitimately wait
   * {@code waitsMs} longer than the request timeout (a lock acquisition's own timeout).
   */
  public <T> CompletableFuture<T> call(int requestId, byte[] frame, Function<BopFrame, T> decode, long waitsMs) {
    String why = closed;
    if (why != null) {
      CompletableFuture<T> failed = new CompletableFuture<>();
      failed.completeExceptionally(new IllegalStateException(why));
      return failed;
    }
    CompletableFuture<BopFrame> answer = expect(requestId, waitsMs);
    // The observer hears of the outcome before the caller does, so metrics read after a
    // request completed count it.
    RequestObserver o = observer;
    int kind = (frame[10] & 0xff) | (frame[11] & 0xff) << 8;
    long started = o == null ? 0 : System.nanoTime();
    outgoing.add(new Outgoing(requestId, frame));
    sendQueued();
    return answer.handle((response, failure) -> {
      if (o != null) {
        o.completed(kind, System.nanoTime() - started, failure == null && !response.isError());
      }
      if (failure != null) {
        throw failure instanceof CompletionException ? (CompletionException) failure : new CompletionException(failure);
      }
      if (response.isError()) {
        BopResponses.ErrorResponse error = BopResponses.error(response);
        throw new BopClusterException(error.code(), error.message());
      }
      return decode.apply(response);
    });
  }

  private static final class Outgoing {
    final int requestId;
    final byte[] frame;

    Outgoing(int requestId, byte[] frame) {
      this.requestId = requestId;
      this.frame = frame;
    }
  }

  /**
   * Sends every queued request in one native call. Under load, callers on other threads queue
   * their requests while one crosses, and the next crossing carries them all.
   */
  private void sendQueued() {
    while (!outgoing.isEmpty() && sending.compareAndSet(false, true)) {
      List<Outgoing> batch = new ArrayList<>();
      int bytes = 0;
      try {
        for (Outgoing o; (o = outgoing.poll()) != null; ) {
          batch.add(o);
          bytes += o.frame.length;
        }
        if (batch.size() == 1) {
          BopNative.requests(handle, batch.get(0).frame);
        } else if (!batch.isEmpty()) {
          byte[] all = new byte[bytes];
          int at = 0;
          for (Outgoing o : batch) {
            System.arraycopy(o.frame, 0, all, at, o.frame.length);
            at += o.frame.length;
          }
          BopNative.requests(handle, all);
        }
      } catch (RuntimeException e) {
        for (Outgoing o : batch) {
          Pending p = pending.remove(o.requestId);
          if (p != null) {
            p.answer.completeExceptionally(e);
          }
        }
      } finally {
        sending.set(false);
      }
    }
  }

  /** Routes a response frame from the native callback thread to its request. */
  void onResponse(byte[] frame) {
    BopFrame decoded;
    try {
      decoded = BopFrame.decode(frame);
    } catch (IllegalArgumentException e) {
      int id = BopFrame.peekRequestId(frame);
      Pending p = pending.remove(id);
      if (p != null) {
        p.answer.completeExceptionally(e);
      }
      return;
    }
    Pending p = pending.remove(decoded.requestId());
    if (p != null) {
      p.answer.complete(decoded);
    }
  }

  /** Registers a request about to be sent; its answer completes the future. */
  CompletableFuture<BopFrame> expect(int requestId, long waitsMs) {
    Pending waiting = new Pending(requestTimeoutMs + Math.max(0, waitsMs) + graceMs);
    pending.put(requestId, waiting);
    return waiting.answer;
  }

  /** The safety net: fails requests the native node has not answered past their deadline. */
  void giveUpLateRequests() {
    long now = System.nanoTime();
    for (Map.Entry<Integer, Pending> entry : pending.entrySet()) {
      Pending p = entry.getValue();
      if (now - p.deadlineNanos >= 0 && pending.remove(entry.getKey(), p)) {
        p.answer.completeExceptionally(new BopClusterException(BopClusterException.TIMEOUT,
          "The cluster node did not answer request " + entry.getKey() + " within " + p.waitMs
            + " ms (its own request timeout is " + requestTimeoutMs + " ms): given up"));
      }
    }
  }

  /** Reports every later request's outcome to {@code observer} (null: to nobody). */
  public void observe(RequestObserver observer) {
    this.observer = observer;
  }

  /** Requests waiting for an answer. */
  public int pendingRequests() {
    return pending.size();
  }

  /** Fails every request still waiting with {@code why}; later calls fail at once with it. */
  void closed(String why) {
    if (closed == null) {
      closed = why;
    }
    ScheduledFuture<?> s = sweeper;
    if (s != null) {
      s.cancel(false);
    }
    IllegalStateException e = new IllegalStateException(closed);
    for (Integer id : pending.keySet()) {
      Pending p = pending.remove(id);
      if (p != null) {
        p.answer.completeExceptionally(e);
      }
    }
  }
}
