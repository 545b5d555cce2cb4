package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.spi.cluster.bop.BopLock;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * What the adapters of this package reach the cluster through: the native node, the value codec,
 * and the Vert.x instance whose contexts their futures complete on. The cluster manager opens it
 * when it joins and closes it when it leaves; the adapters never see the manager, and the manager
 * makes them only through the factories here.
 *
 * <p>It also keeps what a node rejoining after it was declared dead needs: how many times that
 * happened (a lock granted in an earlier incarnation was lost) and this node's own entry in
 * Vert.x HA's cluster map, written back after a rejoin.
 */
public final class BopGateway {

  /** The name of the sync map Vert.x HA keeps its cluster view in. */
  public static final String HA_MAP = "__vertx.haInfo";

  private final long requestTimeoutMs;
  private volatile Vertx vertx;
  private volatile BopContexts contexts;
  private volatile BopNode node;
  private volatile BopValueCodec codec;
  private volatile String nodeId;
  private volatile boolean active;
  private volatile int incarnation;
  /** This node's HA entry as last written (encoded key and value). */
  private volatile byte[][] haEntry;

  public BopGateway(long requestTimeoutMs) {
    this.requestTimeoutMs = requestTimeoutMs;
  }

  public void init(Vertx vertx, BopContexts contexts) {
    this.vertx = vertx;
    this.contexts = contexts;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** Starts serving the node {@code nodeId} has joined with. */
  public void open(String nodeId, BopNode node, BopValueCodec codec) {
    this.nodeId = nodeId;
    this.node = node;
    this.codec = codec;
    this.incarnation = 0;
    this.haEntry = null;
    this.active = true;
  }

  /** Stops serving: later requests fail, and locks are no longer released through it. */
  public void close() {
    active = false;
  }

  public boolean isActive() {
    return active;
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

  public long requestTimeout() {
    return requestTimeoutMs;
  }

  /**
   * Sends the request built for a fresh request id and decodes its answer; when not in the
   * cluster, a failed future instead of an exception.
   */
  public <T> CompletableFuture<T> request(IntFunction<byte[]> build, Function<BopFrame, T> decode) {
    return request(build, decode, 0);
  }

  /** {@link #request(IntFunction, Function)} for a request that may wait {@code waitsMs} longer than the request timeout. */
  public <T> CompletableFuture<T> request(IntFunction<byte[]> build, Function<BopFrame, T> decode, long waitsMs) {
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
    Promise<T> promise = contexts.promise();
    result.whenComplete((value, failure) -> {
      if (failure != null) {
        promise.fail(unwrap(failure));
      } else {
        promise.complete(value);
      }
    });
    return promise.future();
  }

  /** Completes a core-supplied promise from a native answer: {@code promise} gets the value or the unwrapped failure. */
  public static <T> void complete(CompletableFuture<T> result, BiConsumer<? super T, Throwable> promise) {
    result.whenComplete((value, failure) -> promise.accept(value, failure == null ? null : unwrap(failure)));
  }

  /** Reads a response without fields. */
  public static Void empty(BopFrame frame) {
    BopResponses.empty(frame);
    return null;
  }

  public static Throwable unwrap(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  public <K, V> AsyncMap<K, V> asyncMap(String name) {
    return new BopAsyncMap<>(this, name);
  }

  public <K, V> Map<K, V> syncMap(String name) {
    return new BopSyncMap<>(this, name);
  }

  public Counter counter(String name) {
    return new BopCounter(this, name);
  }

  /** A lock granted now with {@code fencingToken}, in this node's current incarnation. */
  public BopLock grantedLock(String name, long fencingToken) {
    return new BopLockImpl(this, name, fencingToken, incarnation);
  }

  /**
   * How many times this node was removed from the cluster (declared dead while unreachable) and
   * admitted again; a lock granted in an earlier incarnation was lost.
   */
  public int incarnation() {
    return incarnation;
  }

  /** Counts a rejoin: locks granted before it are lost. */
  public void rejoined() {
    incarnation++;
  }

  /**
   * Writes back this node's HA entry after a rejoin (the node that failed this one over removed
   * it); {@code onFailure} hears why it could not.
   */
  public void writeBackHaEntry(java.util.function.Consumer<Throwable> onFailure) {
    byte[][] entry = haEntry;
    if (entry == null) {
      return;
    }
    request(id -> BopMessages.syncMapPut(id, HA_MAP, entry[0], entry[1]), BopResponses::optionalBytes)
      .whenComplete((previous, failure) -> {
        if (failure != null) {
          onFailure.accept(unwrap(failure));
        }
      });
  }

  /** Records a write of a sync map: this node's own HA entry is kept to write back. {@code value} null for a removal. */
  void syncMapWritten(String map, byte[] key, byte[] value) {
    if (!HA_MAP.equals(map) || nodeId == null || !Arrays.equals(key, codec.encode(nodeId))) {
      return;
    }
    haEntry = value == null ? null : new byte[][] { key, value };
  }
}
