package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.Future;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * A cluster-wide async map. Keys and values are stored as the bytes of {@link BopValueCodec}
 * (equal keys give equal bytes); every operation is one linearizable command or read of the
 * replicated state. TTLs become deadlines stamped by the leader: an entry reads as absent from its
 * deadline on, on every node. A plain {@code put} clears a TTL; {@code putIfAbsent} with a TTL
 * leaves an existing entry as it is; {@code replace} never creates an entry.
 */
final class BopAsyncMap<K, V> implements AsyncMap<K, V> {

  private final BopGateway gateway;
  private final String name;

  BopAsyncMap(BopGateway gateway, String name) {
    this.gateway = gateway;
    this.name = name;
  }

  private byte[] bytes(Object value) {
    return gateway.codec().encode(value);
  }

  @SuppressWarnings("unchecked")
  private <T> T object(byte[] bytes) {
    return bytes == null ? null : (T) gateway.codec().decode(bytes);
  }

  /** Sends the request built for a fresh id and decodes the answer, on the caller's context. */
  private <T> Future<T> send(IntFunction<byte[]> request, Function<BopFrame, T> decode) {
    try {
      return gateway.toFuture(gateway.request(request, decode));
    } catch (RuntimeException e) {
      // Encoding a key or value failed (a class that is neither allowed nor serializable).
      return Future.failedFuture(e);
    }
  }

  private Future<V> previous(IntFunction<byte[]> request) {
    return send(request, f -> this.<V>object(BopResponses.optionalBytes(f)));
  }

  @Override
  public Future<V> get(K k) {
    return previous(id -> BopMessages.mapGet(id, name, bytes(k)));
  }

  @Override
  public Future<Void> put(K k, V v) {
    return send(id -> BopMessages.mapPut(id, name, bytes(k), bytes(v)), BopGateway::empty);
  }

  @Override
  public Future<Void> put(K k, V v, long ttl) {
    return send(id -> BopMessages.mapPutTtl(id, name, bytes(k), bytes(v), ttl), BopGateway::empty);
  }

  @Override
  public Future<V> putIfAbsent(K k, V v) {
    return previous(id -> BopMessages.mapPutIfAbsent(id, name, bytes(k), bytes(v)));
  }

  @Override
  public Future<V> putIfAbsent(K k, V v, long ttl) {
    return previous(id -> BopMessages.mapPutIfAbsentTtl(id, name, bytes(k), bytes(v), ttl));
  }

  @Override
  public Future<V> remove(K k) {
    return previous(id -> BopMessages.mapRemove(id, name, bytes(k)));
  }

  @Override
  public Future<Boolean> removeIfPresent(K k, V v) {
    return send(id -> BopMessages.mapRemoveIfPresent(id, name, bytes(k), bytes(v)), BopResponses::bool);
  }

  @Override
  public Future<V> replace(K k, V v) {
    return previous(id -> BopMessages.mapReplace(id, name, bytes(k), bytes(v)));
  }

  @Override
  public Future<V> replace(K k, V v, long ttl) {
    return previous(id -> BopMessages.mapReplaceTtl(id, name, bytes(k), bytes(v), ttl));
  }

  @Override
  public Future<Boolean> replaceIfPresent(K k, V oldValue, V newValue) {
    return send(id -> BopMessages.mapReplaceIfPresent(id, name, bytes(k), bytes(oldValue), bytes(newValue)), BopResponses::bool);
  }

  @Override
  public Future<Boolean> replaceIfPresent(K k, V oldValue, V newValue, long ttl) {
    return send(id -> BopMessages.mapReplaceIfPresentTtl(id, name, bytes(k), bytes(oldValue), bytes(newValue), ttl), BopResponses::bool);
  }

  @Override
  public Future<Void> clear() {
    return send(id -> BopMessages.mapClear(id, name), BopGateway::empty);
  }

  @Override
  public Future<Integer> size() {
    return send(id -> BopMessages.mapSize(id, name), f -> (int) Math.min(Integer.MAX_VALUE, BopResponses.u64(f)));
  }

  @Override
  public Future<Set<K>> keys() {
    return send(id -> BopMessages.mapKeys(id, name), f -> {
      Set<K> keys = new HashSet<>();
      for (byte[] k : BopResponses.byteStrings(f)) {
        keys.add(object(k));
      }
      return keys;
    });
  }

  @Override
  public Future<List<V>> values() {
    return send(id -> BopMessages.mapValues(id, name), f -> {
      List<V> values = new ArrayList<>();
      for (byte[] v : BopResponses.byteStrings(f)) {
        values.add(object(v));
      }
      return values;
    });
  }

  @Override
  public Future<Map<K, V>> entries() {
    return send(id -> BopMessages.mapEntries(id, name), f -> {
      Map<K, V> entries = new LinkedHashMap<>();
      for (Map.Entry<byte[], byte[]> e : BopResponses.entries(f)) {
        entries.put(object(e.getKey()), object(e.getValue()));
      }
      return entries;
    });
  }
}
