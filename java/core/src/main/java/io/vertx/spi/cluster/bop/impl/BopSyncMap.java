package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.VertxException;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.AbstractMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The blocking cluster map Vert.x HA keeps {@code __vertx.haInfo} in. Entries outlive the node
 * that wrote them (failover reads a dead node's entry). Writes are replicated and block their
 * thread until applied on this node, at most the request timeout. Reads are answered by this
 * node from the state it has applied, without a round with the leader: they see this node's own
 * writes and everything up to the last node event it delivered, which is what HA compares
 * across nodes when a node leaves. {@link #entrySet()} is a snapshot.
 */
final class BopSyncMap<K, V> extends AbstractMap<K, V> {

  private final BopGateway gateway;
  private final String name;

  BopSyncMap(BopGateway gateway, String name) {
    this.gateway = gateway;
    this.name = name;
  }

  private <T> T await(IntFunction<byte[]> request, Function<BopFrame, T> decode) {
    CompletableFuture<T> answer = gateway.request(request, decode);
    try {
      return answer.get(gateway.requestTimeout() + 5_000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new VertxException(e);
    } catch (ExecutionException e) {
      Throwable cause = BopGateway.unwrap(e.getCause());
      if (cause instanceof BopClusterException) {
        throw new BopClusterException((BopClusterException) cause, "sync map " + name);
      }
      throw cause instanceof RuntimeException ? (RuntimeException) cause : new VertxException(cause);
    } catch (TimeoutException e) {
      throw new VertxException("Timed out waiting for the cluster on sync map " + name, e);
    }
  }

  private byte[] bytes(Object o) {
    return gateway.codec().encode(o);
  }

  @SuppressWarnings("unchecked")
  private <T> T object(byte[] b) {
    return b == null ? null : (T) gateway.codec().decode(b);
  }

  @Override
  public V get(Object key) {
    return object(await(id -> BopMessages.syncMapGet(id, name, bytes(key)), BopResponses::optionalBytes));
  }

  @Override
  public V put(K key, V value) {
    byte[] k = bytes(key);
    byte[] v = bytes(value);
    V previous = object(await(id -> BopMessages.syncMapPut(id, name, k, v), BopResponses::optionalBytes));
    gateway.syncMapWritten(name, k, v);
    return previous;
  }

  @Override
  public V remove(Object key) {
    byte[] k = bytes(key);
    V previous = object(await(id -> BopMessages.syncMapRemove(id, name, k), BopResponses::optionalBytes));
    gateway.syncMapWritten(name, k, null);
    return previous;
  }

  @Override
  public boolean containsKey(Object key) {
    return await(id -> BopMessages.syncMapContains(id, name, bytes(key)), BopResponses::bool);
  }

  @Override
  public Set<Entry<K, V>> entrySet() {
    Map<K, V> copy = new LinkedHashMap<>();
    for (Map.Entry<byte[], byte[]> e : await(id -> BopMessages.syncMapEntries(id, name), BopResponses::entries)) {
      copy.put(object(e.getKey()), object(e.getValue()));
    }
    return copy.entrySet();
  }

  @Override
  public void clear() {
    for (K key : keySet()) {
      remove(key);
    }
  }
}
