package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.jni.BopNative;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeSettings;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeStatus;
import io.vertx.spi.cluster.bop.impl.jni.NativeLibrary;
import io.vertx.spi.cluster.bop.impl.jni.NativeListener;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A started native node seen from Java: sends request frames through {@link BopNative#requests}
 * and completes the matching future when the response frame comes back on the native callback
 * thread. The futures complete on that thread; callers hop onto their Vert.x context themselves.
 * An {@code ErrorResponse} fails the future with a {@link BopClusterException} carrying its code.
 */
public final class BopNode {

  /** What the cluster manager hears from the node, on the native callback thread, in order. */
  public interface Events {
    void nodeAdded(String nodeId);

    void nodeLeft(String nodeId);

    void registrationsChanged(String address, List<RegistrationInfo> registrations);
  }

  private volatile long handle;
  private final AtomicInteger requestIds = new AtomicInteger();
  /** Requests waiting to cross into native code; whoever finds none crossing sends them all. */
  private final ConcurrentLinkedQueue<Outgoing> outgoing = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean sending = new AtomicBoolean();
  private final Map<Integer, CompletableFuture<BopFrame>> pending = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private BopNode() {
  }

  /**
   * Loads the native library, starts a node and returns once it is a member of the cluster.
   * Blocks for as long as joining takes: call it off the event loop.
   */
  public static BopNode start(String nodeId, BopClusterOptions options, Events events) {
    NativeLibrary.load();
    BopNode node = new BopNode();
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
        events.registrationsChanged(address, BopMessages.registrationList(registrations));
      }
    };
    node.handle = BopNative.start(BopNodeSettings.encode(nodeId, options), listener);
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
      closed();
    }
  }

  /** Closes the node without leaving, as a crash would. */
  public void close() {
    try {
      BopNative.close(handle);
    } finally {
      closed();
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
    CompletableFuture<BopFrame> answer = new CompletableFuture<>();
    if (closed) {
      answer.completeExceptionally(new IllegalStateException("The cluster manager has left the cluster"));
      return answer.thenApply(f -> null);
    }
    pending.put(requestId, answer);
    outgoing.add(new Outgoing(requestId, frame));
    sendQueued();
    return answer.thenApply(response -> {
      if (response.isError()) {
        BopMessages.ErrorResponse error = BopMessages.error(response);
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
          CompletableFuture<BopFrame> f = pending.remove(o.requestId);
          if (f != null) {
            f.completeExceptionally(e);
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
      CompletableFuture<BopFrame> f = pending.remove(id);
      if (f != null) {
        f.completeExceptionally(e);
      }
      return;
    }
    CompletableFuture<BopFrame> f = pending.remove(decoded.requestId());
    if (f != null) {
      f.complete(decoded);
    }
  }

  /** Fails every request still waiting; later calls fail at once. */
  private void closed() {
    closed = true;
    IllegalStateException e = new IllegalStateException("The cluster manager has left the cluster");
    pending.values().forEach(f -> f.completeExceptionally(e));
    pending.clear();
  }
}
